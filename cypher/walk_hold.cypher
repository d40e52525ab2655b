// Before a walk writes, in its transaction: one of the walk's two locks, then who walks which
// generation. A walk writes two chunks at once, one under the batch node's lock and one under its
// WalkLease node's ($slot 0 or 1; chunks never share an item), and a takeover of the walk
// (walk_release.cypher) takes both: a write lands wholly before it or finds the walk gone.
MATCH (b:Batch {batchId: $batchId})
OPTIONAL MATCH (w:WalkLease {batchId: $batchId})
WITH b, CASE WHEN $slot = 0 OR w IS NULL THEN b ELSE w END AS held
SET held._lock = true
REMOVE held._lock
RETURN coalesce(b.gen, '') AS gen, b.walker AS walker
