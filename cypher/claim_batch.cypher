// Before a claim: the batch node's lock, held to the end of the claim's transaction, then its
// generation. A load taking the id over needs the same lock, so a worker of the old generation
// either claims before the takeover or sees the new generation and claims nothing.
MATCH (b:Batch {batchId: $batchId})
SET b._lock = true
REMOVE b._lock
RETURN b.status AS status, coalesce(b.gen, '') AS gen
