// A link whose child or parent is not in the batch cannot be a relationship; it is kept as a
// node so the validation queries (and Browser) still see it.
UNWIND $rows AS row
CREATE (:UnresolvedLink {batchId: $batchId, linkId: row.linkId, objectId: row.objectId,
                         referenceId: row.referenceId, linkTag: row.linkTag,
                         dependent: row.dependent, separate: row.separate, status: 'waiting',
                         place: row.place, ord: row.ord})
