// The workers holding leased claims in the batch (an item a service accepted has no lease: it is
// the service's, not a worker's), and the run walking it (walk_begin.cypher). A run that starts
// gives back those of workers known to be gone.
CALL () {
  MATCH (o:PendingObject {batchId: $batchId, status: 'creating'})
  WHERE o.leaseUntil IS NOT NULL
  RETURN o.claimedBy AS worker
  UNION
  MATCH ()-[l:DEPENDS_ON {batchId: $batchId, status: 'creating'}]->()
  WHERE l.leaseUntil IS NOT NULL
  RETURN l.claimedBy AS worker
  UNION
  MATCH ()-[l:LINKED_TO {batchId: $batchId, status: 'creating'}]->()
  WHERE l.leaseUntil IS NOT NULL
  RETURN l.claimedBy AS worker
  UNION
  MATCH (b:Batch {batchId: $batchId})
  WHERE b.walker IS NOT NULL
  RETURN b.walker AS worker
}
RETURN collect(worker) AS rows
