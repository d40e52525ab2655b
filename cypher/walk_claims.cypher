// A walk's claim: read only (the walk holds the whole batch), by the handles walk_objects and
// the walk_* links pages gave, in the record shape of claim.cypher (attempt: the one about to be
// made), so the same code builds the messages. Parents' identifierIds are the stored ones: a
// walk writes a wave's completions before it reads the next wave. Each list in the order of its
// handles (the walk maps answers back to positions by it).
CALL () {
  UNWIND range(0, size($objects) - 1) AS i
  MATCH (o) WHERE id(o) = $objects[i]
  WITH i, o WHERE o:PendingObject AND o.batchId = $batchId
  OPTIONAL MATCH (o)-[l:DEPENDS_ON]->(p:PendingObject)
  WITH i, o, collect(CASE WHEN l IS NULL THEN null ELSE
         {linkId: l.linkId, linkTag: l.linkTag, objectId: p.objectId,
          identifierIds: p.identifierIds} END) AS parents
  ORDER BY i
  RETURN collect({objectId: o.objectId, objectType: o.objectType, fields: o.fields,
                  identifierIds: o.identifierIds, existing: o.existing, attempt: o.attempt + 1,
                  parents: parents}) AS objects
}
CALL () {
  UNWIND range(0, size($links) - 1) AS i
  MATCH ()-[l]->() WHERE id(l) = $links[i]
  WITH i, l WHERE l.batchId = $batchId
  WITH i, l, startNode(l) AS c, endNode(l) AS p
  ORDER BY i
  RETURN collect({linkId: l.linkId, linkTag: l.linkTag, attempt: l.attempt + 1,
                  childId: c.objectId, childIds: c.identifierIds,
                  parentId: p.objectId, parentIds: p.identifierIds}) AS links
}
RETURN objects, links
