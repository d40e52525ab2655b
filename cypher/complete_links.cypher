UNWIND $ids AS id
CALL (id) {
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, linkId: id}]->() RETURN l
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, linkId: id}]->() RETURN l
}
SET l._lock = true
REMOVE l._lock
WITH id, l, l.status AS before
FOREACH (_ IN CASE WHEN before = 'creating' THEN [1] ELSE [] END |
  SET l.status = 'complete', l.leaseUntil = null)
// One record holding every row: the driver's per-record cost is paid once.
RETURN collect({linkId: id, before: before}) AS rows
