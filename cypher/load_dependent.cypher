// Rows: [childId, parentId, linkId, linkTag, separate, ord, place]; place is null unless the file
// gave one (CSV lines): readers fall back to 'links[ord]'. A plain dependent link (no separate
// create) completes with its child and carries no status of its own: readers derive it from the
// child, so completing an object never writes its plain links (a null property is not stored,
// nor indexed).
UNWIND $rows AS row
MATCH (c:PendingObject {batchId: $batchId, objectId: row[0]})
MATCH (p:PendingObject {batchId: $batchId, objectId: row[1]})
CREATE (c)-[:DEPENDS_ON {batchId: $batchId, linkId: row[2], linkTag: row[3], separate: row[4],
                         status: CASE WHEN row[4] THEN 'waiting' END, attempt: 0, ord: row[5], place: row[6]}]->(p)
