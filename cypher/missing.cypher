// Which of the named items the batch does not have (a report naming one is refused whole).
CALL () {
  UNWIND $objects AS id
  OPTIONAL MATCH (o:PendingObject {batchId: $batchId, objectId: id})
  WITH id WHERE o IS NULL
  RETURN 'object' AS kind, id
  UNION ALL
  UNWIND $links AS id
  WITH id WHERE NOT EXISTS { ()-[:DEPENDS_ON {batchId: $batchId, linkId: id}]->() }
            AND NOT EXISTS { ()-[:LINKED_TO {batchId: $batchId, linkId: id}]->() }
  RETURN 'link' AS kind, id
}
RETURN collect([kind, id]) AS rows
