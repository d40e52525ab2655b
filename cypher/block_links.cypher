UNWIND $ids AS id
MATCH (:PendingObject {batchId: $batchId, objectId: id})-[l:DEPENDS_ON|LINKED_TO]-()
WHERE l.status IN ['waiting', 'ready']
SET l._lock = true
REMOVE l._lock
WITH DISTINCT l WHERE l.status IN ['waiting', 'ready']
SET l.status = 'blocked', l.blockedBy = $root
RETURN count(l) AS blocked
