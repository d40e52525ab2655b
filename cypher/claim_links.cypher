MATCH (:Batch {batchId: $batchId, status: 'processing'})
CALL () {
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, status: 'ready'}]->() RETURN l LIMIT $limit
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, status: 'ready'}]->() RETURN l LIMIT $limit
}
WITH l LIMIT $limit
SET l._lock = true
REMOVE l._lock
WITH l WHERE l.status = 'ready'
SET l.status = 'creating', l.attempt = l.attempt + 1, l.claimedBy = $worker,
    l.leaseUntil = $leaseUntil
WITH l, startNode(l) AS c, endNode(l) AS p
RETURN l.linkId AS linkId, l.linkTag AS linkTag, l.attempt AS attempt,
       c.objectId AS childId, c.identifierIds AS childIds,
       p.objectId AS parentId, p.identifierIds AS parentIds
