MATCH (b:Batch {batchId: $batchId})
WHERE b.status IN $from
SET b.status = $to
RETURN b.status AS status
