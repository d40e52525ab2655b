// Rows are lists (smaller on the wire than maps): [objectId, objectType, fields, identifierIds,
// existing, unmet, status, ord]. Status labels exist for Neo4j Browser's colours; labels are
// fixed by this text (never taken from a parameter), hence one FOREACH per status.
UNWIND $rows AS row
CREATE (o:PendingObject {batchId: $batchId, objectId: row[0], objectType: row[1], fields: row[2],
                         identifierIds: row[3], existing: row[4], unmet: row[5], status: row[6],
                         attempt: 0, ord: row[7]})
FOREACH (_ IN CASE WHEN row[6] = 'ready' THEN [1] ELSE [] END | SET o:Ready)
FOREACH (_ IN CASE WHEN row[6] = 'waiting' THEN [1] ELSE [] END | SET o:Waiting)
