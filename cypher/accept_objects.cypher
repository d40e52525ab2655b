UNWIND $ids AS id
MATCH (o:PendingObject {batchId: $batchId, objectId: id})
WHERE o.status = 'creating'
SET o.leaseUntil = null, o.accepted = true
