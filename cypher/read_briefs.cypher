// explain: the state of a few objects named by id (a blocked object's failed root, say).
UNWIND $ids AS id
MATCH (o:PendingObject {batchId: $batchId, objectId: id})
RETURN o.objectId AS objectId, o.status AS status, o.attempt AS attempt, o.reason AS reason,
       o.blockedBy AS blockedBy, o.leaseUntil IS NULL AS noLease
