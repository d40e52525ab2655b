UNWIND $rows AS row
CREATE (r:Reference {batchId: $batchId, referenceId: row.referenceId, objectId: row.objectId})
WITH r, row
MATCH (o:PendingObject {batchId: $batchId, objectId: row.objectId})
CREATE (r)-[:REFERS_TO]->(o)
