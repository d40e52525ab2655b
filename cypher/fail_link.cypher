// As fail_object, for a link.
CALL () {
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, linkId: $linkId}]->() RETURN l
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, linkId: $linkId}]->() RETURN l
}
SET l._lock = true
REMOVE l._lock
WITH l, CASE
    WHEN l.status = 'creating' AND $worker IS NOT NULL AND l.claimedBy <> $worker
      THEN 'creating-elsewhere'
    WHEN l.status IS NOT NULL THEN l.status
    // a plain dependent link has no status of its own: its child's (load_dependent.cypher)
    WHEN startNode(l).status = 'complete' THEN 'complete'
    WHEN startNode(l).status IN ['failed', 'blocked'] THEN 'blocked'
    ELSE 'waiting' END AS before,
     $permanent OR l.attempt >= $maxAttempts AS final
FOREACH (_ IN CASE WHEN before = 'creating' AND final THEN [1] ELSE [] END |
  SET l.status = 'failed', l.reason = $reason, l.leaseUntil = null)
FOREACH (_ IN CASE WHEN before = 'creating' AND NOT final THEN [1] ELSE [] END |
  SET l.status = 'ready', l.reason = $reason, l.leaseUntil = null)
RETURN before, l.status AS after
