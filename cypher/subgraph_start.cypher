// graph: the batch (no row when unknown) and, when $objectId is given, that object.
MATCH (b:Batch {batchId: $batchId})
OPTIONAL MATCH (o:PendingObject {batchId: $batchId, objectId: $objectId})
RETURN b.status AS batchStatus, b.objectCount AS objectCount,
       o.objectId AS objectId, o.objectType AS objectType, o.status AS status
