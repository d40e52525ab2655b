// A new batch id: the uniqueness constraint on batchId makes a second, concurrent create fail, so
// exactly one load of a new id goes on.
CREATE (b:Batch {batchId: $batchId, status: 'loading', gen: $gen, owner: $owner, ownerUntil: $until,
                 errors: '[]', loadedAt: datetime(), objectCount: $objectCount, linkCount: $linkCount})
