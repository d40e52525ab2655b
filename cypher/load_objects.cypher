// Status labels (:Ready, :Waiting, ...) exist for Neo4j Browser's colours; status is the truth.
UNWIND $rows AS row
CREATE (o:PendingObject {batchId: $batchId, objectId: row.objectId, objectType: row.objectType,
                         fields: row.fields, identifierIds: row.identifierIds,
                         existing: row.existing, unmet: row.unmet, status: row.status,
                         attempt: 0, ord: row.ord})
FOREACH (_ IN CASE WHEN row.status = 'ready' THEN [1] ELSE [] END | SET o:Ready)
FOREACH (_ IN CASE WHEN row.status = 'waiting' THEN [1] ELSE [] END | SET o:Waiting)
