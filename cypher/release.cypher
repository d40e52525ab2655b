// A worker that stops (SIGINT/SIGTERM) gives its leased claims back, so the next run takes them
// at once instead of waiting out the leases. Items a service accepted (no lease) stay with it.
CALL () {
  MATCH (o:PendingObject {batchId: $batchId, status: 'creating'})
  WHERE o.claimedBy = $worker AND o.leaseUntil IS NOT NULL
  SET o._lock = true
  REMOVE o._lock
  WITH o WHERE o.status = 'creating' AND o.claimedBy = $worker AND o.leaseUntil IS NOT NULL
  SET o.status = 'ready', o.leaseUntil = null, o:Ready
  REMOVE o:Creating
  RETURN count(o) AS n
  UNION ALL
  MATCH ()-[l:DEPENDS_ON|LINKED_TO]->()
  WHERE l.batchId = $batchId AND l.status = 'creating' AND l.claimedBy = $worker
    AND l.leaseUntil IS NOT NULL
  SET l._lock = true
  REMOVE l._lock
  WITH l WHERE l.status = 'creating' AND l.claimedBy = $worker AND l.leaseUntil IS NOT NULL
  SET l.status = 'ready', l.leaseUntil = null
  RETURN count(l) AS n
}
RETURN sum(n) AS released
