// Guarded as complete_objects. A permanent failure (or a transient one past $maxAttempts) makes
// it 'failed' (the caller then blocks what depends on it); a transient one puts it back to
// 'ready', to be dispatched again with the same idempotencyKey.
MATCH (o:PendingObject {batchId: $batchId, objectId: $objectId})
SET o._lock = true
REMOVE o._lock
WITH o, CASE WHEN o.status = 'creating' AND $worker IS NOT NULL AND o.claimedBy <> $worker
             THEN 'creating-elsewhere' ELSE o.status END AS before,
     $permanent OR o.attempt >= $maxAttempts AS final
FOREACH (_ IN CASE WHEN before = 'creating' AND final THEN [1] ELSE [] END |
  SET o.status = 'failed', o.reason = $reason, o.leaseUntil = null, o:Failed
  REMOVE o:Creating)
FOREACH (_ IN CASE WHEN before = 'creating' AND NOT final THEN [1] ELSE [] END |
  SET o.status = 'ready', o.reason = $reason, o.leaseUntil = null, o:Ready
  REMOVE o:Creating)
RETURN before, o.status AS after
