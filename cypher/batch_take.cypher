// Take the id over from the generation a load found (a finished batch being replaced, or a load
// that died): under the batch node's lock, and only if nobody took it since. Workers of the old
// generation are fenced from here on: their claims and their finish name the old one.
MATCH (b:Batch {batchId: $batchId})
SET b._lock = true
REMOVE b._lock
WITH b WHERE coalesce(b.gen, '') = $oldGen
SET b.status = 'loading', b.gen = $gen, b.owner = $owner, b.ownerUntil = $until, b.errors = '[]',
    b.loadedAt = datetime(), b.objectCount = $objectCount, b.linkCount = $linkCount,
    b.batchComplete = null, b.finishedAt = null, b.validatedAt = null, b.walker = null,
    b.walkUntil = null
RETURN b.gen AS gen
