CALL () {
  MATCH (o:PendingObject {batchId: $batchId, status: 'failed'})
  RETURN 'object' AS kind, o.objectId AS id, o.reason AS reason
  UNION ALL
  MATCH ()-[l:DEPENDS_ON|LINKED_TO]->()
  WHERE l.batchId = $batchId AND l.status = 'failed'
  RETURN 'link' AS kind, l.linkId AS id, l.reason AS reason
}
RETURN kind, id, reason
ORDER BY kind, id
