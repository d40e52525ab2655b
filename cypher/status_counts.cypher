CALL () {
  MATCH (o:PendingObject) WHERE o.batchId = $batchId AND o.status IS NOT NULL
  RETURN 'object' AS kind, o.status AS status, count(*) AS n
  UNION ALL
  MATCH ()-[l:DEPENDS_ON|LINKED_TO]->() WHERE l.batchId = $batchId AND l.status IS NOT NULL
  RETURN 'link' AS kind, l.status AS status, count(*) AS n
  UNION ALL
  MATCH (u:UnresolvedLink {batchId: $batchId})
  RETURN 'link' AS kind, u.status AS status, count(*) AS n
}
RETURN kind, status, sum(n) AS n
ORDER BY kind, status
