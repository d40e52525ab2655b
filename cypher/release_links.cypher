// Links of completed objects: a dependent link completes with its child (or becomes ready for
// its own create); an independent link is ready once both ends are complete. The link's lock
// is taken before reading the far end, so two ends completing at once cannot both miss it.
UNWIND $ids AS id
MATCH (o:PendingObject {batchId: $batchId, objectId: id})-[l:DEPENDS_ON|LINKED_TO]-(x:PendingObject)
WHERE l.status = 'waiting' AND (type(l) = 'LINKED_TO' OR startNode(l) = o)
SET l._lock = true
REMOVE l._lock
WITH l, x WHERE l.status = 'waiting'
  AND (type(l) = 'DEPENDS_ON' OR x.status = 'complete')
SET l.status = CASE WHEN type(l) = 'DEPENDS_ON' AND NOT l.separate THEN 'complete' ELSE 'ready' END
RETURN count(l) AS changed
