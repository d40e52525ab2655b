MATCH (o:PendingObject {batchId: $batchId, objectId: $objectId})
SET o._lock = true
REMOVE o._lock
WITH o, o.status AS before
FOREACH (_ IN CASE WHEN before = 'creating' THEN [1] ELSE [] END |
  SET o.status = 'failed', o.reason = $reason, o.leaseUntil = null, o:Failed
  REMOVE o:Creating)
RETURN before
