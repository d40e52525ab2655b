MATCH (b:Batch)
RETURN b.batchId AS batchId
ORDER BY b.batchId
