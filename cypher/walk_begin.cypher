// A walk leases the whole batch to one run (resolver/walk.py): under the batch node's lock (the
// one every claim takes), only when the batch is processing in $gen, no other run walks it, and
// nothing is out with a service (no item creating, accepted ones included), so no claim and no
// report can touch an item while the walk holds it.
MATCH (b:Batch {batchId: $batchId})
SET b._lock = true
REMOVE b._lock
WITH b
WHERE b.status = 'processing' AND ($gen IS NULL OR coalesce(b.gen, '') = $gen) AND b.walker IS NULL
  AND NOT EXISTS { MATCH (o:PendingObject {batchId: $batchId, status: 'creating'}) }
  AND NOT EXISTS { MATCH ()-[l:DEPENDS_ON {batchId: $batchId, status: 'creating'}]->() }
  AND NOT EXISTS { MATCH ()-[l:LINKED_TO {batchId: $batchId, status: 'creating'}]->() }
SET b.walker = $worker, b.walkUntil = $walkUntil
// the second lock of the walk's writes (walk_hold.cypher)
MERGE (:WalkLease {batchId: $batchId})
RETURN count(b) AS begun
