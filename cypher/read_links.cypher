// explain: the object's links with both ends' status. Its parents' side first (an object has
// few parents, and they are what it waits on), then its children's; each side capped, so a
// category with 100k products costs $limit rows, not 100k.
MATCH (o:PendingObject {batchId: $batchId, objectId: $objectId})
CALL (o) {
  MATCH (o)-[l:DEPENDS_ON|LINKED_TO]->(p:PendingObject)
  WITH o AS c, l, p LIMIT $limit
  RETURN c, l, p, 0 AS side
  UNION ALL
  MATCH (o)<-[l:DEPENDS_ON|LINKED_TO]-(c:PendingObject)
  WHERE c <> o
  WITH c, l, o AS p LIMIT $limit
  RETURN c, l, p, 1 AS side
}
RETURN l.linkId AS linkId, l.linkTag AS linkTag, type(l) = 'DEPENDS_ON' AS dependent,
       coalesce(l.separate, false) AS separate,
       CASE WHEN l.status IS NOT NULL THEN l.status
            WHEN c.status = 'complete' THEN 'complete'
            WHEN c.status IN ['failed', 'blocked'] THEN 'blocked' ELSE 'waiting' END AS status,
       l.reason AS reason,
       CASE WHEN l.status IS NOT NULL THEN l.blockedBy WHEN c.status = 'failed' THEN c.objectId
            WHEN c.status = 'blocked' THEN c.blockedBy END AS blockedBy,
       c.objectId AS childId, c.status AS childStatus, p.objectId AS parentId,
       p.status AS parentStatus, side
ORDER BY side, linkId
