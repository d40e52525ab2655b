CALL () {
  MATCH (o:PendingObject {batchId: $batchId, status: 'creating'})
  WHERE o.claimedBy = $worker AND o.leaseUntil IS NOT NULL
  SET o.leaseUntil = $leaseUntil
  RETURN count(o) AS n
  UNION ALL
  MATCH ()-[l:DEPENDS_ON|LINKED_TO]->()
  WHERE l.batchId = $batchId AND l.status = 'creating' AND l.claimedBy = $worker
    AND l.leaseUntil IS NOT NULL
  SET l.leaseUntil = $leaseUntil
  RETURN count(l) AS n
  UNION ALL
  MATCH (b:Batch {batchId: $batchId})
  WHERE b.walker = $worker
  SET b.walkUntil = $leaseUntil
  RETURN count(b) AS n
}
RETURN sum(n) AS renewed
