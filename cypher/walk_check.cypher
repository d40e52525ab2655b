// After a walk's claims were read, in the same read transaction: who walks which generation. A
// replaced batch changes its generation before its items go, so claims read before this found
// the walk's own items.
MATCH (b:Batch {batchId: $batchId})
RETURN coalesce(b.gen, '') AS gen, b.walker AS walker
