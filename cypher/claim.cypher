// A claim in one statement. First the batch node's lock, held to the end of the transaction,
// then its generation's fence ($gen null: none): a load taking the id over needs the same lock,
// so a worker of the old generation either claims before the takeover or sees the new generation
// and claims nothing. The claims of a batch therefore take turns, and only a claim moves an item
// out of ready: a ready item is read by one claim at a time and needs no lock of its own. While a
// run walks the batch (walk_begin.cypher) it holds every item: nothing is claimed.
// Objects first, then links, up to $limit in all, each list in one record (the driver's cost per
// record is paid once).
// The index seeks are forced (USING INDEX SEEK): with a LIMIT the planner at times chose to scan
// the whole (batchId, status) index and filter it, reading every link already claimed before
// the ready ones; the link phase of a 1M-object run fell from 8,800 to 3,000 items/s.
MATCH (b:Batch {batchId: $batchId})
SET b._lock = true
REMOVE b._lock
WITH b.status AS status, coalesce(b.gen, '') AS gen, b.walker IS NULL AS free
WITH status, gen, status = 'processing' AND ($gen IS NULL OR gen = $gen) AND free AS open
CALL (open) {
  WITH open WHERE open
  MATCH (o:PendingObject {batchId: $batchId, status: 'ready'})
  USING INDEX SEEK o:PendingObject(batchId, status)
  WITH o LIMIT $limit
  SET o.status = 'creating', o.attempt = o.attempt + 1, o.claimedBy = $worker,
      o.leaseUntil = $leaseUntil, o:Creating
  REMOVE o:Ready
  WITH o
  OPTIONAL MATCH (o)-[l:DEPENDS_ON]->(p:PendingObject)
  WITH o, collect(CASE WHEN l IS NULL THEN null ELSE
         {linkId: l.linkId, linkTag: l.linkTag, objectId: p.objectId,
          identifierIds: p.identifierIds} END) AS parents
  RETURN collect({objectId: o.objectId, objectType: o.objectType, fields: o.fields,
                  identifierIds: o.identifierIds, existing: o.existing, attempt: o.attempt,
                  parents: parents}) AS objects
}
CALL (open, objects) {
  WITH open, size(objects) AS taken WHERE open AND taken < $limit
  CALL () {
    MATCH ()-[l:DEPENDS_ON {batchId: $batchId, status: 'ready'}]->()
    USING INDEX SEEK l:DEPENDS_ON(batchId, status)
    RETURN l LIMIT $limit
    UNION
    MATCH ()-[l:LINKED_TO {batchId: $batchId, status: 'ready'}]->()
    USING INDEX SEEK l:LINKED_TO(batchId, status)
    RETURN l LIMIT $limit
  }
  WITH taken, collect(l) AS ready
  UNWIND ready[..($limit - taken)] AS l
  SET l.status = 'creating', l.attempt = l.attempt + 1, l.claimedBy = $worker,
      l.leaseUntil = $leaseUntil
  WITH l, startNode(l) AS c, endNode(l) AS p
  RETURN collect({linkId: l.linkId, linkTag: l.linkTag, attempt: l.attempt,
                  childId: c.objectId, childIds: c.identifierIds,
                  parentId: p.objectId, parentIds: p.identifierIds}) AS links
}
RETURN status, gen, objects, links
