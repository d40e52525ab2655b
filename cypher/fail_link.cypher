// As fail_object, for a link.
CALL () {
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, linkId: $linkId}]->() RETURN l
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, linkId: $linkId}]->() RETURN l
}
SET l._lock = true
REMOVE l._lock
WITH l, CASE WHEN l.status = 'creating' AND $worker IS NOT NULL AND l.claimedBy <> $worker
             THEN 'creating-elsewhere' ELSE l.status END AS before,
     $permanent OR l.attempt >= $maxAttempts AS final
FOREACH (_ IN CASE WHEN before = 'creating' AND final THEN [1] ELSE [] END |
  SET l.status = 'failed', l.reason = $reason, l.leaseUntil = null)
FOREACH (_ IN CASE WHEN before = 'creating' AND NOT final THEN [1] ELSE [] END |
  SET l.status = 'ready', l.reason = $reason, l.leaseUntil = null)
RETURN before, l.status AS after
