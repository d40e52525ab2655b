// The dependent-link subgraph, streamed to the cycle finder. An edge whose child has no
// dependent child, or whose parent has no dependent parent, cannot be on a cycle: left out.
MATCH (c:PendingObject)-[l:DEPENDS_ON]->(p:PendingObject)
WHERE c.batchId = $batchId AND c.status IS NOT NULL
  AND EXISTS { (c)<-[:DEPENDS_ON]-() } AND EXISTS { (p)-[:DEPENDS_ON]->() }
// One record holding every row: the driver's per-record cost is paid once.
RETURN collect([c.objectId, p.objectId, l.linkId]) AS rows
