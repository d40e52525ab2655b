// graph without --around: the whole batch, capped at $limit objects read from the
// (batchId, status) index with no sort, so the cap bounds the cost too.
MATCH (o:PendingObject {batchId: $batchId})
WHERE o.status IS NOT NULL
WITH o LIMIT $limit
RETURN o.objectId AS objectId, o.objectType AS objectType, o.status AS status
