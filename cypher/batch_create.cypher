CREATE (b:Batch {batchId: $batchId, status: 'loading', errors: '[]', loadedAt: datetime(),
                 objectCount: $objectCount, linkCount: $linkCount})
