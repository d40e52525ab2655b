// Items whose worker stopped renewing its lease go back to ready, to be dispatched again with
// the same idempotencyKey (the service drops the duplicate).
CALL () {
  MATCH (o:PendingObject {batchId: $batchId, status: 'creating'})
  WHERE o.leaseUntil < $now
  SET o._lock = true
  REMOVE o._lock
  WITH o WHERE o.status = 'creating' AND o.leaseUntil < $now
  SET o.status = 'ready', o.leaseUntil = null, o:Ready
  REMOVE o:Creating
  RETURN count(o) AS n
  UNION ALL
  MATCH ()-[l:DEPENDS_ON|LINKED_TO]->()
  WHERE l.batchId = $batchId AND l.status = 'creating' AND l.leaseUntil < $now
  SET l._lock = true
  REMOVE l._lock
  WITH l WHERE l.status = 'creating' AND l.leaseUntil < $now
  SET l.status = 'ready', l.leaseUntil = null
  RETURN count(l) AS n
}
RETURN sum(n) AS reclaimed
