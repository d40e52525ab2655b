// explain: one level of the upward search, the dependent parents of $ids that are not
// complete. The caller loops level by level with a visited set: no variable-length path.
UNWIND $ids AS id
MATCH (:PendingObject {batchId: $batchId, objectId: id})-[:DEPENDS_ON]->(p:PendingObject)
WHERE p.status <> 'complete'
RETURN id AS childId, p.objectId AS objectId, p.status AS status, p.attempt AS attempt,
       p.reason AS reason, p.blockedBy AS blockedBy, p.leaseUntil IS NULL AS noLease
LIMIT $limit
