// The batch node's lock serialises finishers, so exactly one worker makes the transition. The
// same write owes the batch-complete message (the outbox): whoever holds an adapter delivers it
// and marks it delivered. $gen fences a worker of a replaced batch (null: a report from outside
// a run, which finishes whatever generation is current).
MATCH (b:Batch {batchId: $batchId})
SET b._lock = true
REMOVE b._lock
WITH b, coalesce(b.gen, '') AS gen
CALL (b, gen) {
  WITH b WHERE b.status = 'processing' AND ($gen IS NULL OR gen = $gen)
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
  SET b.status = CASE WHEN bad THEN 'failed' ELSE 'complete' END, b.finishedAt = datetime(),
      b.batchComplete = 'owed', b.finishes = coalesce(b.finishes, 0) + 1
  RETURN b.status AS finished
  UNION
  RETURN null AS finished
}
WITH gen, collect(finished) AS done
RETURN gen, [s IN done WHERE s IS NOT NULL][0] AS status
