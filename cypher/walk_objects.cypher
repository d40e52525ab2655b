// One page of a walk's graph: objects in objectId order after $after, as parallel lists:
// position (ord), the node's id (the walk's handle for it) and a state (0 open, 1 complete, 2
// failed or blocked). A seek in the (batchId, objectId) index read in its order: ordered by both
// properties the plan takes the index's order; by objectId alone it sorted everything after
// $after for every page (a 1M-object walk read its graph in 20 pages of up to 1M rows).
MATCH (o:PendingObject {batchId: $batchId})
USING INDEX o:PendingObject(batchId, objectId)
WHERE o.objectId > $after
WITH o ORDER BY o.batchId, o.objectId LIMIT $limit
RETURN collect(o.objectId) AS keys, collect(o.ord) AS ords, collect(id(o)) AS handles,
       collect(CASE o.status WHEN 'complete' THEN 1 WHEN 'failed' THEN 2 WHEN 'blocked' THEN 2 ELSE 0 END)
         AS states
