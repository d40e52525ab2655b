// A guarded batch transition: from one of $from only, and, while a load owns the batch, only by
// that load ($owner; null for transitions outside a load).
MATCH (b:Batch {batchId: $batchId})
WHERE b.status IN $from AND ($owner IS NULL OR b.owner = $owner)
SET b.status = $to
RETURN b.status AS status, b.gen AS gen
