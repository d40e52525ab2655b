// One page of a walk's graph: independent links in linkId order after $after, as walk_dependent.
MATCH (c:PendingObject)-[l:LINKED_TO {batchId: $batchId}]->(p:PendingObject)
USING INDEX l:LINKED_TO(batchId, linkId)
WHERE l.linkId > $after
WITH c, l, p ORDER BY l.batchId, l.linkId LIMIT $limit
RETURN collect(l.linkId) AS keys, collect(c.ord) AS children, collect(p.ord) AS parents,
       collect(id(l)) AS handles,
       collect(CASE l.status WHEN 'complete' THEN 1 WHEN 'failed' THEN 2 WHEN 'blocked' THEN 2 ELSE 0 END)
         AS states
