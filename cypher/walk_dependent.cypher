// One page of a walk's graph: dependent links in linkId order after $after: child and parent
// positions, and for a link with a create of its own its relationship id and state (as
// walk_objects; a plain one: handle -1, as it has no status of its own).
MATCH (c:PendingObject)-[l:DEPENDS_ON {batchId: $batchId}]->(p:PendingObject)
USING INDEX l:DEPENDS_ON(batchId, linkId)
WHERE l.linkId > $after
WITH c, l, p ORDER BY l.batchId, l.linkId LIMIT $limit
RETURN collect(l.linkId) AS keys, collect(c.ord) AS children, collect(p.ord) AS parents,
       collect(CASE WHEN l.separate THEN id(l) ELSE -1 END) AS handles,
       collect(CASE l.status WHEN 'complete' THEN 1 WHEN 'failed' THEN 2 WHEN 'blocked' THEN 2 ELSE 0 END)
         AS states
