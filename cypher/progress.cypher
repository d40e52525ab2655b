UNWIND ['ready', 'creating', 'waiting'] AS s
CALL (s) {
  MATCH (o:PendingObject {batchId: $batchId, status: s}) RETURN count(o) AS n
  UNION ALL
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, status: s}]->() RETURN count(l) AS n
  UNION ALL
  MATCH ()-[l:LINKED_TO {batchId: $batchId, status: s}]->() RETURN count(l) AS n
}
RETURN s AS status, sum(n) AS n
// a run walks the batch (walk_begin.cypher): its ready items are its own
UNION ALL
MATCH (b:Batch {batchId: $batchId})
WHERE b.walker IS NOT NULL
RETURN 'walked' AS status, 1 AS n
