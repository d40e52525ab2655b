// graph --around: one breadth-first level, the objects linked to $ids in either direction that
// are not in $seen. DISTINCT streams and LIMIT stops it early, so a hub cannot flood the view.
UNWIND $ids AS id
MATCH (:PendingObject {batchId: $batchId, objectId: id})-[:DEPENDS_ON|LINKED_TO]-(x:PendingObject)
WHERE NOT x.objectId IN $seen
WITH DISTINCT x LIMIT $limit
RETURN x.objectId AS objectId, x.objectType AS objectType, x.status AS status
