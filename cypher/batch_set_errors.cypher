MATCH (b:Batch {batchId: $batchId})
SET b.errors = $errors, b.status = $status, b.validatedAt = datetime()
