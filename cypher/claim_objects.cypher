// Read committed: two workers may both read the same ready object, so each takes the node's
// write lock (the throwaway _lock write) and re-reads the status before changing it.
MATCH (o:PendingObject {batchId: $batchId, status: 'ready'})
WITH o LIMIT $limit
SET o._lock = true
REMOVE o._lock
WITH o WHERE o.status = 'ready'
SET o.status = 'creating', o.attempt = o.attempt + 1, o.claimedBy = $worker,
    o.leaseUntil = $leaseUntil, o:Creating
REMOVE o:Ready
WITH o
OPTIONAL MATCH (o)-[l:DEPENDS_ON]->(p:PendingObject)
WITH o, collect(CASE WHEN l IS NULL THEN null ELSE
       {linkId: l.linkId, linkTag: l.linkTag, objectId: p.objectId,
        identifierIds: p.identifierIds} END) AS parents
// One record holding every row: the driver's per-record cost is paid once.
RETURN collect({objectId: o.objectId, objectType: o.objectType, fields: o.fields,
                identifierIds: o.identifierIds, existing: o.existing, attempt: o.attempt,
                parents: parents}) AS rows
