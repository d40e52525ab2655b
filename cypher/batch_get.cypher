MATCH (b:Batch {batchId: $batchId})
RETURN b.status AS status, b.errors AS errors
