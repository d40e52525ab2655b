// The batch's head as a load sees it: who owns an unfinished load, and until when.
MATCH (b:Batch {batchId: $batchId})
RETURN b.status AS status, coalesce(b.gen, '') AS gen, b.owner AS owner, b.ownerUntil AS ownerUntil,
       COUNT { (:PendingObject {batchId: $batchId, status: 'creating'}) }
         + COUNT { ()-[:DEPENDS_ON {batchId: $batchId, status: 'creating'}]->() }
         + COUNT { ()-[:LINKED_TO {batchId: $batchId, status: 'creating'}]->() }
         // a walk's items go out from 'ready': while a run walks the batch, those count
         + CASE WHEN b.walker IS NULL THEN 0 ELSE
             COUNT { (:PendingObject {batchId: $batchId, status: 'ready'}) }
             + COUNT { ()-[:DEPENDS_ON {batchId: $batchId, status: 'ready'}]->() }
             + COUNT { ()-[:LINKED_TO {batchId: $batchId, status: 'ready'}]->() } END AS inFlight
