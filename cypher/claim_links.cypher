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
// One record holding every row: the driver's per-record cost is paid once.
RETURN collect({linkId: l.linkId, linkTag: l.linkTag, attempt: l.attempt,
                childId: c.objectId, childIds: c.identifierIds,
                parentId: p.objectId, parentIds: p.identifierIds}) AS rows
