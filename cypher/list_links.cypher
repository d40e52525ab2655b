CALL () {
  MATCH (c:PendingObject)-[l:DEPENDS_ON|LINKED_TO]->(p:PendingObject)
  WHERE l.batchId = $batchId AND l.status IS NOT NULL
  RETURN l.linkId AS linkId, l.status AS status, l.linkTag AS linkTag,
         CASE type(l) WHEN 'DEPENDS_ON' THEN 'dependent' ELSE 'independent' END AS linkType,
         c.objectId AS objectId, p.objectId AS parentObjectId, l.reason AS reason,
         l.blockedBy AS blockedBy, null AS referenceId
  UNION ALL
  MATCH (u:UnresolvedLink {batchId: $batchId})
  RETURN u.linkId AS linkId, u.status AS status, u.linkTag AS linkTag,
         CASE WHEN u.dependent THEN 'dependent' ELSE 'independent' END AS linkType,
         u.objectId AS objectId, null AS parentObjectId, null AS reason, null AS blockedBy,
         u.referenceId AS referenceId
}
RETURN linkId, status, linkTag, linkType, objectId, parentObjectId, reason, blockedBy, referenceId
ORDER BY linkId
