// The outbox, emptied once the adapter took the batch-complete message (guarded: a second
// deliverer finds nothing owed and changes nothing).
MATCH (b:Batch {batchId: $batchId})
WHERE b.batchComplete = 'owed'
SET b.batchComplete = 'delivered', b.deliveredAt = datetime()
RETURN count(b) AS marked
