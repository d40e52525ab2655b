// The batch node, by the load that owns it ($owner), or whoever deletes the batch (null).
MATCH (b:Batch {batchId: $batchId})
WHERE $owner IS NULL OR b.owner = $owner
DELETE b
RETURN count(*) AS deleted
