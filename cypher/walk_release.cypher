// A walk given back: by its own run ($worker), or taken over once its lease ran out ($worker
// null, $now), under both of the walk's locks (walk_hold.cypher). A walk writes final states
// only, never unmet counts or readiness, so the items it left open get both back from their
// parents' statuses, each locked before its parents are read (a completion reported at the same
// moment locks it too: one of the two sees the other's). Every run's reclaim calls this: with no
// walk it reads the batch node and locks nothing.
MATCH (b:Batch {batchId: $batchId})
WHERE b.walker IS NOT NULL
SET b._lock = true
REMOVE b._lock
WITH b
WHERE b.walker IS NOT NULL AND (b.walker = $worker OR ($worker IS NULL AND b.walkUntil < $now))
OPTIONAL MATCH (w:WalkLease {batchId: $batchId})
SET w._lock = true
REMOVE w._lock
WITH b, w
CALL () {
  UNWIND ['waiting', 'ready'] AS s
  MATCH (o:PendingObject {batchId: $batchId, status: s})
  SET o._lock = true
  REMOVE o._lock
  WITH o, COUNT { (o)-[:DEPENDS_ON]->(p:PendingObject) WHERE p.status <> 'complete' } AS unmet
  SET o.unmet = unmet
  FOREACH (_ IN CASE WHEN unmet = 0 AND o.status = 'waiting' THEN [1] ELSE [] END |
    SET o.status = 'ready', o:Ready REMOVE o:Waiting)
  FOREACH (_ IN CASE WHEN unmet > 0 AND o.status = 'ready' THEN [1] ELSE [] END |
    SET o.status = 'waiting', o:Waiting REMOVE o:Ready)
  RETURN count(o) AS objects
}
CALL () {
  UNWIND ['waiting', 'ready'] AS s
  CALL (s) {
    MATCH ()-[l:DEPENDS_ON {batchId: $batchId, status: s}]->() RETURN l
    UNION
    MATCH ()-[l:LINKED_TO {batchId: $batchId, status: s}]->() RETURN l
  }
  SET l._lock = true
  REMOVE l._lock
  WITH l, startNode(l).status = 'complete'
          AND (type(l) = 'DEPENDS_ON' OR endNode(l).status = 'complete') AS ends
  SET l.status = CASE WHEN ends THEN 'ready' ELSE 'waiting' END
  RETURN count(l) AS links
}
REMOVE b.walker, b.walkUntil
DELETE w
RETURN count(b) AS released
