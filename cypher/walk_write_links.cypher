// A walk's final states of links with a status of their own, as walk_write_objects. Rows:
// [handle, status, value, unmet]: value is the reason for 'failed' and 'ready', the root for
// 'blocked'; unmet (an object's) is not a link's.
UNWIND $rows AS r
MATCH ()-[l]->() WHERE id(l) = r[0] AND l.batchId = $batchId AND l.status IN ['waiting', 'ready']
WITH l, r, r[1] = 'blocked' AS blocked
SET l.status = r[1],
    l.attempt = l.attempt + CASE WHEN blocked THEN 0 ELSE 1 END,
    l.reason = CASE WHEN r[1] IN ['failed', 'ready'] THEN r[2] ELSE l.reason END,
    l.blockedBy = CASE WHEN blocked THEN r[2] ELSE l.blockedBy END
RETURN count(l) AS written
