// Guarded: only a creating object completes, and with $worker (a run's own answers) only one
// that worker claimed (a worker of a replaced batch, or one whose lease another took over,
// changes nothing); the others report their status unchanged. A completed object releases, in
// the same statement: its dependent links with a create of their own (ready for it; plain ones
// carry no status: they follow the child), its independent links whose two ends are complete,
// and one unmet parent per dependent link of each child (Kahn's step: zero = ready).
// Completions of other objects of the batch may run beside this one and share those links and
// children: each is locked before it is read, and in one order (by element id) in every such
// statement, so two of them wait for each other instead of deadlocking.
UNWIND $items AS item
MATCH (o:PendingObject {batchId: $batchId, objectId: item.objectId})
SET o._lock = true
REMOVE o._lock
WITH o, item, CASE WHEN o.status = 'creating' AND $worker IS NOT NULL AND o.claimedBy <> $worker
                   THEN 'creating-elsewhere' ELSE o.status END AS before
CALL (o, item, before) {
  WITH o, item WHERE before = 'creating'
  SET o.status = 'complete', o.identifierIds = item.identifierIds, o.leaseUntil = null, o:Complete
  REMOVE o:Creating
  WITH o
  // only links with a create of their own have a status: the plain ones follow the child; no
  // other completion touches them (this object is their child)
  MATCH (o)-[l:DEPENDS_ON]->()
  WHERE l.status = 'waiting'
  SET l._lock = true
  REMOVE l._lock
  WITH l WHERE l.status = 'waiting'
  SET l.status = 'ready'
}
// an object with no relationships releases nothing
WITH collect({objectId: item.objectId, before: before}) AS rows,
     collect(CASE WHEN before = 'creating' AND COUNT { (o)--() } > 0 THEN o END) AS done
CALL (done) {
  UNWIND done AS o
  MATCH (o)-[l:LINKED_TO]-(:PendingObject)
  WHERE l.status = 'waiting'
  WITH DISTINCT l ORDER BY elementId(l)
  SET l._lock = true
  REMOVE l._lock
  WITH l WHERE l.status = 'waiting' AND startNode(l).status = 'complete' AND endNode(l).status = 'complete'
  SET l.status = 'ready'
}
CALL (done) {
  UNWIND done AS o
  MATCH (o)<-[:DEPENDS_ON]-(c:PendingObject)
  WITH c, count(*) AS n ORDER BY elementId(c)
  SET c._lock = true
  REMOVE c._lock
  SET c.unmet = c.unmet - n
  WITH c WHERE c.unmet = 0 AND c.status = 'waiting'
  SET c.status = 'ready', c:Ready
  REMOVE c:Waiting
}
RETURN rows
