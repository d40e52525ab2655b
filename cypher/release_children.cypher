// Kahn's step kept in the graph: each completed parent takes one off its children's unmet
// count (per link); a child reaching zero is ready. Costs the parents' degree, not the batch.
UNWIND $ids AS id
MATCH (:PendingObject {batchId: $batchId, objectId: id})<-[:DEPENDS_ON]-(c:PendingObject)
WITH c, count(*) AS n
SET c._lock = true
REMOVE c._lock
SET c.unmet = c.unmet - n
WITH c WHERE c.unmet = 0 AND c.status = 'waiting'
SET c.status = 'ready', c:Ready
REMOVE c:Waiting
RETURN count(c) AS ready
