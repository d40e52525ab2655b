// The batch node's lock serialises finishers, so exactly one worker makes the transition and
// emits batch-complete.
MATCH (b:Batch {batchId: $batchId})
SET b._lock = true
REMOVE b._lock
WITH b WHERE b.status = 'processing'
  AND NOT EXISTS { MATCH (o:PendingObject {batchId: $batchId})
                   WHERE o.status IN ['waiting', 'ready', 'creating'] }
  AND NOT EXISTS { MATCH ()-[l:DEPENDS_ON {batchId: $batchId}]->()
                   WHERE l.status IN ['waiting', 'ready', 'creating'] }
  AND NOT EXISTS { MATCH ()-[l:LINKED_TO {batchId: $batchId}]->()
                   WHERE l.status IN ['waiting', 'ready', 'creating'] }
WITH b, EXISTS { MATCH (o:PendingObject {batchId: $batchId})
                 WHERE o.status IN ['failed', 'blocked'] }
     OR EXISTS { MATCH ()-[l:DEPENDS_ON|LINKED_TO]->()
                 WHERE l.batchId = $batchId AND l.status IN ['failed', 'blocked'] } AS bad
SET b.status = CASE WHEN bad THEN 'failed' ELSE 'complete' END, b.finishedAt = datetime()
RETURN b.status AS status
