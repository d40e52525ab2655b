// The loader is alive: its hold on the unfinished load is extended.
MATCH (b:Batch {batchId: $batchId})
WHERE b.owner = $owner
SET b.ownerUntil = $until
RETURN count(b) AS held
