// The service took these and reports later: no lease expires under them any more.
UNWIND $ids AS id
MATCH (o:PendingObject {batchId: $batchId, objectId: id})
WHERE o.status = 'creating' AND ($worker IS NULL OR o.claimedBy = $worker)
SET o.leaseUntil = null, o.accepted = true
