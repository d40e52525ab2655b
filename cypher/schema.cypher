// Run one statement at a time (schema changes need their own transactions); split on ';'.
CREATE CONSTRAINT batch_id IF NOT EXISTS FOR (b:Batch) REQUIRE b.batchId IS UNIQUE;
CREATE CONSTRAINT object_key IF NOT EXISTS FOR (o:PendingObject) REQUIRE (o.batchId, o.objectId) IS UNIQUE;
CREATE CONSTRAINT reference_key IF NOT EXISTS FOR (r:Reference) REQUIRE (r.batchId, r.referenceId) IS UNIQUE;
CREATE CONSTRAINT link_tag_key IF NOT EXISTS FOR (t:LinkTag) REQUIRE (t.batchId, t.linkTag) IS UNIQUE;
CREATE INDEX object_status IF NOT EXISTS FOR (o:PendingObject) ON (o.batchId, o.status);
CREATE INDEX unresolved_batch IF NOT EXISTS FOR (u:UnresolvedLink) ON (u.batchId);
CREATE INDEX depends_on_id IF NOT EXISTS FOR ()-[l:DEPENDS_ON]-() ON (l.batchId, l.linkId);
CREATE INDEX linked_to_id IF NOT EXISTS FOR ()-[l:LINKED_TO]-() ON (l.batchId, l.linkId);
CREATE INDEX depends_on_status IF NOT EXISTS FOR ()-[l:DEPENDS_ON]-() ON (l.batchId, l.status);
CREATE INDEX linked_to_status IF NOT EXISTS FOR ()-[l:LINKED_TO]-() ON (l.batchId, l.status)
