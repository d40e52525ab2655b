// Rows: [childId, parentId, linkId, linkTag, ord, place], as load_dependent.
UNWIND $rows AS row
MATCH (c:PendingObject {batchId: $batchId, objectId: row[0]})
MATCH (p:PendingObject {batchId: $batchId, objectId: row[1]})
CREATE (c)-[:LINKED_TO {batchId: $batchId, linkId: row[2], linkTag: row[3], separate: false,
                        status: 'waiting', attempt: 0, ord: row[4], place: row[5]}]->(p)
