// unknown-link-tag, link-tag-mismatch and existing-child, in one pass over the batch's links. The
// batch's few tags are read once (as "tag|childType|parentType" keys) instead of one index seek
// per link, and a link's other properties are read only when it is reported.
MATCH (t:LinkTag)
WHERE t.batchId = $batchId AND t.linkTag IS NOT NULL
WITH collect(t.linkTag) AS known, collect(t.linkTag + '|' + t.childType + '|' + t.parentType) AS allowed
CALL (known, allowed) {
  MATCH (c:PendingObject)-[l:DEPENDS_ON|LINKED_TO]->(p:PendingObject)
  WHERE c.batchId = $batchId AND c.status IS NOT NULL
  WITH l, c, p, l.linkTag AS linkTag, c.objectType AS childType, p.objectType AS parentType
  WITH l, c, p, linkTag, childType, parentType, NOT linkTag IN known AS unknownTag,
       NOT (linkTag + '|' + childType + '|' + parentType) IN allowed AS wrong,
       type(l) = 'DEPENDS_ON' AND NOT l.separate AND c.existing AS existingChild
  WHERE unknownTag OR wrong OR existingChild
  RETURN l.linkId AS linkId, linkTag, coalesce(l.place, 'links[' + l.ord + ']') AS place, l.ord AS ord,
         c.objectId AS childId, p.objectId AS parentId, childType, parentType, unknownTag,
         wrong AND NOT unknownTag AS mismatch, existingChild
  UNION ALL
  MATCH (u:UnresolvedLink {batchId: $batchId})
  WHERE NOT u.linkTag IN known
  RETURN u.linkId AS linkId, u.linkTag AS linkTag, u.place AS place, u.ord AS ord,
         null AS childId, null AS parentId, null AS childType, null AS parentType,
         true AS unknownTag, false AS mismatch, false AS existingChild
}
OPTIONAL MATCH (t:LinkTag {batchId: $batchId, linkTag: linkTag})
RETURN linkId, linkTag, place, ord, childId, parentId, childType, parentType,
       t.childType AS wantChild, t.parentType AS wantParent, unknownTag, mismatch, existingChild
ORDER BY ord
