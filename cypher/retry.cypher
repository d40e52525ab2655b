// Failed and blocked items go back: objects to waiting (counting the dependent parents still
// not complete, which includes parents being retried here) or ready; links to the status their
// ends call for. $objectId limits it to that object, what it blocked, and their links.
CALL () {
  MATCH (o:PendingObject {batchId: $batchId})
  WHERE o.status IN ['failed', 'blocked']
    AND ($objectId IS NULL OR o.objectId = $objectId OR o.blockedBy = $objectId)
  WITH o, COUNT { (o)-[:DEPENDS_ON]->(p:PendingObject) WHERE p.status <> 'complete' } AS unmet
  SET o.unmet = unmet, o.status = CASE WHEN unmet = 0 THEN 'ready' ELSE 'waiting' END,
      o.reason = null, o.blockedBy = null, o.leaseUntil = null
  REMOVE o:Failed:Blocked
  FOREACH (_ IN CASE WHEN unmet = 0 THEN [1] ELSE [] END | SET o:Ready)
  FOREACH (_ IN CASE WHEN unmet = 0 THEN [] ELSE [1] END | SET o:Waiting)
  RETURN count(o) AS n
}
CALL () {
  MATCH (c:PendingObject)-[l:DEPENDS_ON|LINKED_TO]->(p:PendingObject)
  WHERE l.batchId = $batchId AND l.status IN ['failed', 'blocked']
    AND ($objectId IS NULL OR l.blockedBy = $objectId OR $objectId IN [c.objectId, p.objectId])
  WITH l, c.status = 'complete' AND (type(l) = 'DEPENDS_ON' OR p.status = 'complete') AS endsDone
  SET l.reason = null, l.blockedBy = null, l.leaseUntil = null,
      l.status = CASE
        WHEN NOT endsDone THEN 'waiting'
        WHEN type(l) = 'DEPENDS_ON' AND NOT l.separate THEN 'complete'
        ELSE 'ready' END
  RETURN count(l) AS m
}
// A finished batch that gets items back is processing again, and owes a new batch-complete
// when it finishes again (one still owed is superseded by it).
MATCH (b:Batch {batchId: $batchId})
WITH b, n + m > 0 AND b.status IN ['failed', 'complete'] AS reopened, n + m AS retried
SET b.status = CASE WHEN reopened THEN 'processing' ELSE b.status END,
    b.batchComplete = CASE WHEN reopened THEN null ELSE b.batchComplete END
RETURN retried
