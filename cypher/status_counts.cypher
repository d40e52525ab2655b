CALL () {
  MATCH (o:PendingObject) WHERE o.batchId = $batchId AND o.status IS NOT NULL
  RETURN 'object' AS kind, o.status AS status, count(*) AS n
  UNION ALL
  MATCH ()-[l:DEPENDS_ON|LINKED_TO]->() WHERE l.batchId = $batchId AND l.status IS NOT NULL
  RETURN 'link' AS kind, l.status AS status, count(*) AS n
  UNION ALL
  // plain dependent links carry no status: theirs is their child's (load_dependent.cypher); the
  // seek is forced, as in claim.cypher: the planner chose a scan of every batch's objects
  MATCH (c:PendingObject)-[l:DEPENDS_ON]->()
  USING INDEX SEEK c:PendingObject(batchId, status)
  WHERE c.batchId = $batchId AND c.status IS NOT NULL AND l.status IS NULL
  RETURN 'link' AS kind, CASE c.status WHEN 'complete' THEN 'complete' WHEN 'failed' THEN 'blocked' WHEN 'blocked' THEN 'blocked' ELSE 'waiting' END AS status, count(*) AS n
  UNION ALL
  MATCH (u:UnresolvedLink {batchId: $batchId})
  RETURN 'link' AS kind, u.status AS status, count(*) AS n
}
RETURN kind, status, sum(n) AS n
ORDER BY kind, status
