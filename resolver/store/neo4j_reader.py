"""The Neo4j store's ``GraphReader``: named queries in ``cypher/read_*.cypher``, each starting with
an index seek on (batchId, objectId) and expanding one hop with LIMIT, all in one read
transaction that the store opens for the reader.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import UnknownBatchError
from . import queries
from .base import BatchHead, Row

__all__ = ["Neo4jReader"]


class Neo4jReader:
    def __init__(self, tx: queries.Transaction, batch_id: str) -> None:
        self._tx = tx
        self._batch_id = batch_id

    def _run(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return queries.run(self._tx, name, batchId=self._batch_id, **params)

    def head(self) -> BatchHead:
        found = self._run("read_batch")
        if not found or found[0]["status"] == "loading":
            raise UnknownBatchError(self._batch_id)
        row = found[0]
        return BatchHead(row["status"], json.loads(row["errors"] or "[]"), int(row["objectCount"] or 0))

    def object(self, object_id: str) -> Row | None:
        found = self._run("read_object", objectId=object_id)
        if not found:
            return None
        node: Row = dict(found[0]["object"])
        node["identifierIds"] = json.loads(node["identifierIds"]) if node.get("identifierIds") else None
        node["degree"] = found[0]["degree"]
        return node

    def briefs(self, ids: Sequence[str]) -> list[Row]:
        return [_brief(r) for r in self._run("read_briefs", ids=list(ids))]

    def parents(self, ids: Sequence[str], limit: int) -> list[Row]:
        found = self._run("read_parents", ids=list(ids), limit=limit)
        return [_brief(r, childId=r["childId"]) for r in found]

    def links(self, object_id: str, limit: int) -> list[Row]:
        return [
            {
                "linkId": r["linkId"],
                "linkTag": r["linkTag"],
                "dependent": r["dependent"],
                "separate": r["separate"],
                "status": r["status"],
                "reason": r["reason"],
                "blockedBy": r["blockedBy"],
                "child": {"objectId": r["childId"], "status": r["childStatus"]},
                "parent": {"objectId": r["parentId"], "status": r["parentStatus"]},
            }
            for r in self._run("read_links", objectId=object_id, limit=limit)
        ]

    def objects(self, limit: int) -> list[Row]:
        return self._run("read_objects", limit=limit)

    def neighbours(self, ids: Sequence[str], seen: Sequence[str], limit: int) -> list[Row]:
        return self._run("read_neighbours", ids=list(ids), seen=list(seen), limit=limit)

    def edges(self, ids: Sequence[str], limit: int) -> list[Row]:
        return self._run("read_edges", ids=list(ids), limit=limit)


def _brief(r: Row, **extra: Any) -> Row:
    return {
        "objectId": r["objectId"],
        "status": r["status"],
        "attempt": r["attempt"] or 0,
        "reason": r["reason"],
        "blockedBy": r["blockedBy"],
        "accepted": r["status"] == "creating" and bool(r["noLease"]),
        **extra,
    }
