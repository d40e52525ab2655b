UNWIND $rows AS row
CREATE (:LinkTag {batchId: $batchId, linkTag: row.linkTag, childType: row.childType,
                  parentType: row.parentType})
