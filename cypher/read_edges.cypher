// graph: the links among the chosen objects, found from each child's side (a child has few
// parents), capped.
UNWIND $ids AS id
MATCH (c:PendingObject {batchId: $batchId, objectId: id})-[l:DEPENDS_ON|LINKED_TO]->(p:PendingObject)
WHERE p.objectId IN $ids
RETURN l.linkId AS linkId, l.linkTag AS linkTag,
       CASE type(l) WHEN 'DEPENDS_ON' THEN 'dependent' ELSE 'independent' END AS linkType,
       c.objectId AS child, p.objectId AS parent,
       CASE WHEN l.status IS NOT NULL THEN l.status
            WHEN c.status = 'complete' THEN 'complete'
            WHEN c.status IN ['failed', 'blocked'] THEN 'blocked' ELSE 'waiting' END AS status
LIMIT $limit
