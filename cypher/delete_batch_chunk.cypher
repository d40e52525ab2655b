// Deletes in chunks so a 100k-object batch never needs one huge transaction. The IS NOT NULL
// predicates let each composite index serve the batchId prefix.
CALL {
  MATCH (n:PendingObject) WHERE n.batchId = $batchId AND n.status IS NOT NULL RETURN n LIMIT $limit
  UNION
  MATCH (n:Reference) WHERE n.batchId = $batchId AND n.referenceId IS NOT NULL RETURN n LIMIT $limit
  UNION
  MATCH (n:UnresolvedLink {batchId: $batchId}) RETURN n LIMIT $limit
  UNION
  MATCH (n:LinkTag) WHERE n.batchId = $batchId AND n.linkTag IS NOT NULL RETURN n LIMIT $limit
  UNION
  MATCH (n:WalkLease {batchId: $batchId}) RETURN n LIMIT $limit
}
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS deleted
