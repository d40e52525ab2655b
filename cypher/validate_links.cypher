// unknown-link-tag, link-tag-mismatch and existing-child, in one pass over the batch's links.
CALL {
  MATCH (c:PendingObject)-[l:DEPENDS_ON|LINKED_TO]->(p:PendingObject)
  WHERE c.batchId = $batchId AND c.status IS NOT NULL
  RETURN l.linkId AS linkId, l.linkTag AS linkTag, l.place AS place, l.ord AS ord,
         type(l) = 'DEPENDS_ON' AS dependent, l.separate AS separate,
         c.objectId AS childId, c.objectType AS childType, c.existing AS childExists,
         p.objectId AS parentId, p.objectType AS parentType
  UNION ALL
  MATCH (u:UnresolvedLink {batchId: $batchId})
  RETURN u.linkId AS linkId, u.linkTag AS linkTag, u.place AS place, u.ord AS ord,
         u.dependent AS dependent, u.separate AS separate,
         null AS childId, null AS childType, null AS childExists,
         null AS parentId, null AS parentType
}
OPTIONAL MATCH (t:LinkTag {batchId: $batchId, linkTag: linkTag})
WITH *, t IS NULL AS unknownTag,
     t IS NOT NULL AND childId IS NOT NULL
       AND (t.childType <> childType OR t.parentType <> parentType) AS mismatch,
     childId IS NOT NULL AND dependent AND NOT separate AND childExists AS existingChild
WHERE unknownTag OR mismatch OR existingChild
RETURN linkId, linkTag, place, ord, childId, parentId, childType, parentType,
       t.childType AS wantChild, t.parentType AS wantParent, unknownTag, mismatch, existingChild
ORDER BY ord
