MATCH (o:PendingObject)
WHERE o.batchId = $batchId AND o.status IS NOT NULL
RETURN o.objectId AS objectId, o.objectType AS objectType, o.status AS status,
       o.identifierIds AS identifierIds, o.attempt AS attempt, o.reason AS reason,
       o.blockedBy AS blockedBy
ORDER BY o.objectId
