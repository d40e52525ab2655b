CALL () {
  MATCH (c:PendingObject)-[l:DEPENDS_ON|LINKED_TO]->(p:PendingObject)
  WHERE c.batchId = $batchId AND c.status IS NOT NULL
  // a plain dependent link's status and blockedBy are its child's (load_dependent.cypher)
  RETURN l.linkId AS linkId, CASE WHEN l.status IS NOT NULL THEN l.status
            WHEN c.status = 'complete' THEN 'complete'
            WHEN c.status IN ['failed', 'blocked'] THEN 'blocked' ELSE 'waiting' END AS status,
         l.linkTag AS linkTag,
         CASE type(l) WHEN 'DEPENDS_ON' THEN 'dependent' ELSE 'independent' END AS linkType,
         c.objectId AS objectId, p.objectId AS parentObjectId, l.reason AS reason,
         CASE WHEN l.status IS NOT NULL THEN l.blockedBy WHEN c.status = 'failed' THEN c.objectId
              WHEN c.status = 'blocked' THEN c.blockedBy END AS blockedBy,
         null AS referenceId
  UNION ALL
  MATCH (u:UnresolvedLink {batchId: $batchId})
  RETURN u.linkId AS linkId, u.status AS status, u.linkTag AS linkTag,
         CASE WHEN u.dependent THEN 'dependent' ELSE 'independent' END AS linkType,
         u.objectId AS objectId, null AS parentObjectId, null AS reason, null AS blockedBy,
         u.referenceId AS referenceId
}
RETURN linkId, status, linkTag, linkType, objectId, parentObjectId, reason, blockedBy, referenceId
ORDER BY linkId
