// One breadth-first step of blocking below a failed object; the caller loops on the frontier,
// so a 100k-long chain needs no variable-length path and no recursion.
UNWIND $ids AS id
MATCH (:PendingObject {batchId: $batchId, objectId: id})<-[:DEPENDS_ON]-(c:PendingObject)
WHERE c.status = 'waiting'
SET c._lock = true
REMOVE c._lock
WITH DISTINCT c WHERE c.status = 'waiting'
SET c.status = 'blocked', c.blockedBy = $root, c:Blocked
REMOVE c:Waiting
RETURN c.objectId AS objectId
