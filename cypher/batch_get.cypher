MATCH (b:Batch {batchId: $batchId})
RETURN b.status AS status, b.errors AS errors, b.batchComplete AS batchComplete,
       b.ownerUntil AS ownerUntil, coalesce(b.finishes, 0) AS finishes
