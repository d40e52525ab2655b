// Guarded: only a creating object completes; the others report their status unchanged.
UNWIND $items AS item
MATCH (o:PendingObject {batchId: $batchId, objectId: item.objectId})
SET o._lock = true
REMOVE o._lock
WITH o, item, o.status AS before
FOREACH (_ IN CASE WHEN before = 'creating' THEN [1] ELSE [] END |
  SET o.status = 'complete', o.identifierIds = item.identifierIds, o.leaseUntil = null,
      o:Complete
  REMOVE o:Creating)
RETURN item.objectId AS objectId, before
