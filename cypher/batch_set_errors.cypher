// Validation's verdict: 'loaded' (valid) or 'error'. By the load that owns the batch while it is
// 'validating', or, with no owner, again on a batch that is 'loaded' or 'error' (never on one
// that is being processed or finished).
MATCH (b:Batch {batchId: $batchId})
WHERE ($owner IS NOT NULL AND b.status = 'validating' AND b.owner = $owner)
   OR ($owner IS NULL AND b.status IN ['loaded', 'error'])
SET b.errors = $errors, b.status = $status, b.validatedAt = datetime(), b.owner = null,
    b.ownerUntil = null
RETURN b.status AS status
