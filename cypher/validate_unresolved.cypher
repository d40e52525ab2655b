// unknown-object and unknown-reference: links kept as UnresolvedLink nodes, re-checked here
// against what is stored.
MATCH (u:UnresolvedLink {batchId: $batchId})
RETURN u.linkId AS linkId, u.objectId AS objectId, u.referenceId AS referenceId,
       u.place AS place, u.ord AS ord,
       NOT EXISTS { MATCH (:PendingObject {batchId: $batchId, objectId: u.objectId}) } AS unknownObject,
       NOT EXISTS { MATCH (:PendingObject {batchId: $batchId, objectId: u.referenceId}) }
         AND NOT EXISTS { MATCH (:Reference {batchId: $batchId, referenceId: u.referenceId})-[:REFERS_TO]->() }
         AS unknownReference
ORDER BY u.ord
