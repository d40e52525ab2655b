// Guarded: only a creating link completes, and with $worker (a run's own answers) only one that
// worker claimed, so a worker of a replaced batch, or one whose lease another took over, changes
// nothing; the others report their status unchanged.
UNWIND $ids AS id
CALL (id) {
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, linkId: id}]->() RETURN l
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, linkId: id}]->() RETURN l
}
SET l._lock = true
REMOVE l._lock
WITH id, l, CASE
    WHEN l.status = 'creating' AND $worker IS NOT NULL AND l.claimedBy <> $worker
      THEN 'creating-elsewhere'
    WHEN l.status IS NOT NULL THEN l.status
    // a plain dependent link has no status of its own: its child's (load_dependent.cypher)
    WHEN startNode(l).status = 'complete' THEN 'complete'
    WHEN startNode(l).status IN ['failed', 'blocked'] THEN 'blocked'
    ELSE 'waiting' END AS before
FOREACH (_ IN CASE WHEN before = 'creating' THEN [1] ELSE [] END |
  SET l.status = 'complete', l.leaseUntil = null)
// One record holding every row: the driver's per-record cost is paid once.
RETURN collect({linkId: id, before: before}) AS rows
