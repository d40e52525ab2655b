// explain: one object and its batch, by index seeks; no row when the batch is unknown, a null
// object when the object is. The degree count reads the node's degree store, not its links.
MATCH (b:Batch {batchId: $batchId})
OPTIONAL MATCH (o:PendingObject {batchId: $batchId, objectId: $objectId})
RETURN b.status AS batchStatus, b.errors AS errors,
       CASE WHEN o IS NULL THEN null ELSE
         o {.objectType, .status, .identifierIds, .existing, .unmet, .attempt, .blockedBy, .reason,
            .leaseUntil} END AS object,
       CASE WHEN o IS NULL THEN 0 ELSE COUNT { (o)-[:DEPENDS_ON|LINKED_TO]-() } END AS degree
