// explain and graph: one object by an index seek (no row when unknown). The degree count reads
// the node's degree store, not its links.
MATCH (o:PendingObject {batchId: $batchId, objectId: $objectId})
RETURN o {.objectType, .status, .identifierIds, .existing, .unmet, .attempt, .blockedBy, .reason,
          .leaseUntil} AS object,
       COUNT { (o)-[:DEPENDS_ON|LINKED_TO]-() } AS degree
