// A walk's final states of objects, after walk_hold in the same transaction. Rows: [handle,
// status, value, unmet]; value is the identifierIds text for 'complete' (null: an existing
// object keeps its own), the reason for 'failed' and for 'ready' (a transient failure, given back
// to the loop), the failed root's objectId for 'blocked'. What a claim and its answer would
// leave, but for the lease (claimedBy, leaseUntil: a final state has none): a dispatched object
// counts an attempt, a blocked one was never claimed. Status labels are fixed by this text, hence
// one FOREACH per status. The id seek comes first: with the status filter beside it, the planner
// chose the (batchId, status) index and read every open object for each row.
UNWIND $rows AS r
MATCH (o) WHERE id(o) = r[0]
WITH o, r, r[1] = 'blocked' AS blocked
WHERE o:PendingObject AND o.batchId = $batchId AND o.status IN ['waiting', 'ready']
SET o.attempt = o.attempt + CASE WHEN blocked THEN 0 ELSE 1 END, o.unmet = r[3]
REMOVE o:Waiting:Ready
FOREACH (_ IN CASE WHEN r[1] = 'complete' THEN [1] ELSE [] END |
  SET o.status = 'complete', o.identifierIds = coalesce(r[2], o.identifierIds), o:Complete)
FOREACH (_ IN CASE WHEN r[1] = 'failed' THEN [1] ELSE [] END |
  SET o.status = 'failed', o.reason = r[2], o:Failed)
FOREACH (_ IN CASE WHEN blocked THEN [1] ELSE [] END |
  SET o.status = 'blocked', o.blockedBy = r[2], o:Blocked)
FOREACH (_ IN CASE WHEN r[1] = 'ready' THEN [1] ELSE [] END |
  SET o.status = 'ready', o.reason = r[2], o:Ready)
RETURN count(o) AS written
