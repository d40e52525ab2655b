UNWIND $ids AS id
CALL (id) {
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, linkId: id}]->() RETURN l
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, linkId: id}]->() RETURN l
}
WITH l WHERE l.status = 'creating' AND ($worker IS NULL OR l.claimedBy = $worker)
SET l.leaseUntil = null, l.accepted = true
