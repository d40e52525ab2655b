CALL () {
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, linkId: $linkId}]->() RETURN l
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, linkId: $linkId}]->() RETURN l
}
SET l._lock = true
REMOVE l._lock
WITH l, l.status AS before
FOREACH (_ IN CASE WHEN before = 'creating' THEN [1] ELSE [] END |
  SET l.status = 'failed', l.reason = $reason, l.leaseUntil = null)
RETURN before
