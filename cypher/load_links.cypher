// Both ends were resolved when the rows were planned; dependent and independent links differ
// by relationship type so Browser draws them apart and readiness only follows DEPENDS_ON.
UNWIND $rows AS row
MATCH (c:PendingObject {batchId: $batchId, objectId: row.childId})
MATCH (p:PendingObject {batchId: $batchId, objectId: row.parentId})
FOREACH (_ IN CASE WHEN row.dependent THEN [1] ELSE [] END |
  CREATE (c)-[:DEPENDS_ON {batchId: $batchId, linkId: row.linkId, linkTag: row.linkTag,
                           separate: row.separate, status: 'waiting', attempt: 0,
                           place: row.place, ord: row.ord}]->(p))
FOREACH (_ IN CASE WHEN row.dependent THEN [] ELSE [1] END |
  CREATE (c)-[:LINKED_TO {batchId: $batchId, linkId: row.linkId, linkTag: row.linkTag,
                          separate: false, status: 'waiting', attempt: 0,
                          place: row.place, ord: row.ord}]->(p))
