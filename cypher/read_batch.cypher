// explain and graph: the batch's head (no row when unknown).
MATCH (b:Batch {batchId: $batchId})
RETURN b.status AS status, b.errors AS errors, b.objectCount AS objectCount
