MATCH (b:Batch {batchId: $batchId})
DELETE b
RETURN count(*) AS deleted
