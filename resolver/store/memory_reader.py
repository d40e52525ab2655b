"""The memory store's ``GraphReader``: the reads ``resolver.views`` walks, over one batch's
networkx graph.

Every read starts at the objects it names and touches only their links, except ``objects``,
which is the capped whole-batch view. The store holds its lock while the reader is open.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

from .base import BatchHead, Row
from .memory_graph import BatchGraph

__all__ = ["MemoryReader"]


class MemoryReader:
    def __init__(self, batch: BatchGraph) -> None:
        self._b = batch
        self._g = batch.graph

    def head(self) -> BatchHead:
        b = self._b
        return BatchHead(b.status, list(b.errors), self._g.number_of_nodes())

    def object(self, object_id: str) -> Row | None:
        g = self._g
        if object_id not in g:
            return None
        degree = g.out_degree(object_id) + g.in_degree(object_id) - g.number_of_edges(object_id, object_id)
        return {**g.nodes[object_id], "degree": degree}

    def _brief(self, oid: str) -> Row:
        d = self._g.nodes[oid]
        return {
            "objectId": oid,
            "status": d["status"],
            "attempt": d.get("attempt", 0),
            "reason": d.get("reason"),
            "blockedBy": d.get("blockedBy"),
            "accepted": d["status"] == "creating" and d.get("leaseUntil") is None,
        }

    def briefs(self, ids: Sequence[str]) -> list[Row]:
        return [self._brief(oid) for oid in ids if oid in self._g]

    def parents(self, ids: Sequence[str], limit: int) -> list[Row]:
        g = self._g
        rows = (
            {"childId": child, **self._brief(p)}
            for child in ids
            for _, p, d in g.out_edges(child, data=True)
            if d["dependent"] and g.nodes[p]["status"] != "complete"
        )
        return list(itertools.islice(rows, limit))

    def links(self, object_id: str, limit: int) -> list[Row]:
        g = self._g
        out = heapq.nsmallest(limit, g.out_edges(object_id, keys=True, data=True), key=lambda e: e[2])
        into = heapq.nsmallest(
            limit,
            (e for e in g.in_edges(object_id, keys=True, data=True) if e[0] != object_id),
            key=lambda e: e[2],
        )
        return [
            {
                "linkId": lid,
                "linkTag": d["linkTag"],
                "dependent": d["dependent"],
                "separate": d["separate"],
                "status": d["status"],
                "reason": d.get("reason"),
                "blockedBy": d.get("blockedBy"),
                "child": {"objectId": child, "status": g.nodes[child]["status"]},
                "parent": {"objectId": parent, "status": g.nodes[parent]["status"]},
            }
            for child, parent, lid, d in [*out, *into]
        ]

    def _node(self, oid: str) -> Row:
        d = self._g.nodes[oid]
        return {"objectId": oid, "objectType": d["objectType"], "status": d["status"]}

    def objects(self, limit: int) -> list[Row]:
        return [self._node(oid) for oid in itertools.islice(self._g.nodes, limit)]

    def neighbours(self, ids: Sequence[str], seen: Sequence[str], limit: int) -> list[Row]:
        g = self._g
        skip = set(seen)
        found: list[Row] = []
        for oid in ids:
            for nxt in itertools.chain(g.successors(oid), g.predecessors(oid)):
                if nxt in skip:
                    continue
                if len(found) >= limit:
                    return found
                skip.add(nxt)
                found.append(self._node(nxt))
        return found

    def edges(self, ids: Sequence[str], limit: int) -> list[Row]:
        g = self._g
        keep = set(ids)
        rows = (
            {
                "linkId": lid,
                "linkTag": d["linkTag"],
                "linkType": "dependent" if d["dependent"] else "independent",
                "child": c,
                "parent": p,
                "status": d["status"],
            }
            for oid in ids
            for c, p, lid, d in g.out_edges(oid, keys=True, data=True)
            if p in keep
        )
        return list(itertools.islice(rows, limit))
