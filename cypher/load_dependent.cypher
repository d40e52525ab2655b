// Rows: [childId, parentId, linkId, linkTag, separate, ord, place]; place is null unless the file
// gave one (CSV lines): readers fall back to 'links[ord]'.
UNWIND $rows AS row
MATCH (c:PendingObject {batchId: $batchId, objectId: row[0]})
MATCH (p:PendingObject {batchId: $batchId, objectId: row[1]})
CREATE (c)-[:DEPENDS_ON {batchId: $batchId, linkId: row[2], linkTag: row[3], separate: row[4],
                         status: 'waiting', attempt: 0, ord: row[5], place: row[6]}]->(p)
