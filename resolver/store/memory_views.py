"""Read-side views (``resolver.views``) over the in-process store's networkx graphs.

Every walk starts at one object and touches only what it expands (its degree, the bounded
breadth-first search above it), never the whole batch, except ``subgraph`` without ``around``,
which is the whole-batch view and is capped. The caller holds no lock across calls, so each
function takes the store's lock once and copies what it returns.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import TYPE_CHECKING, Any

from ..errors import UnknownItemError
from ..views import (
    ExplainLimits,
    Subgraph,
    ancestors_search,
    link_entry,
    object_entry,
    relevant_errors,
)

if TYPE_CHECKING:
    from .memory import MemoryStore, _Batch

__all__ = ["explain", "subgraph"]


def explain(store: MemoryStore, batch_id: str, object_id: str, limits: ExplainLimits) -> dict[str, Any]:
    with store._lock:
        b = store._get(batch_id)
        g = b.graph
        if object_id not in g:
            raise UnknownItemError(batch_id, "object", object_id)
        node = g.nodes[object_id]
        out = object_entry(batch_id, b.status, object_id, node)

        def parents(ids: list[str]) -> list[dict[str, Any]]:
            rows = []
            for child in ids:
                for _, p, d in g.out_edges(child, data=True):
                    if d["dependent"] and g.nodes[p]["status"] != "complete":
                        rows.append({"childId": child, **_brief(p, g.nodes[p])})
            return rows

        out.update(
            ancestors_search(
                object_id,
                node["status"],
                node.get("blockedBy"),
                parents,
                limits,
                lambda oid: _brief(oid, g.nodes[oid]) if oid in g else None,
            )
        )
        links, total = _links(b, object_id, limits.max_links)
        out["links"] = links
        out["linksTotal"] = total
        out["linksTruncated"] = total > len(links)
        out["errors"] = relevant_errors(b.errors, object_id)
        return out


def _brief(oid: str, d: dict[str, Any]) -> dict[str, Any]:
    return {
        "objectId": oid,
        "status": d["status"],
        "attempt": d.get("attempt", 0),
        "reason": d.get("reason"),
        "blockedBy": d.get("blockedBy"),
        "accepted": d["status"] == "creating" and d.get("leaseUntil") is None,
    }


def _links(b: _Batch, object_id: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    g = b.graph
    rows: dict[str, dict[str, Any]] = {}
    # Parent side first (an object has few parents, and they are what it waits on), each side
    # in linkId order and capped, as the Neo4j query does.
    out = heapq.nsmallest(limit, g.out_edges(object_id, keys=True, data=True), key=lambda e: e[2])
    into = heapq.nsmallest(
        limit,
        (e for e in g.in_edges(object_id, keys=True, data=True) if e[0] != object_id),
        key=lambda e: e[2],
    )
    total = g.out_degree(object_id) + g.in_degree(object_id) - g.number_of_edges(object_id, object_id)
    for child, parent, lid, d in [*out, *into]:
        if lid in rows or len(rows) >= limit:
            continue
        rows[lid] = link_entry(
            object_id,
            lid,
            d["linkTag"],
            bool(d["dependent"]),
            bool(d["separate"]),
            d["status"],
            _brief(child, g.nodes[child]),
            _brief(parent, g.nodes[parent]),
            d.get("reason"),
            d.get("blockedBy"),
        )
    return list(rows.values()), total


def subgraph(store: MemoryStore, batch_id: str, around: str | None, depth: int, max_nodes: int) -> Subgraph:
    with store._lock:
        b = store._get(batch_id)
        g = b.graph
        total = g.number_of_nodes()
        if around is None:
            ids = list(itertools.islice(g.nodes, max_nodes))
            truncated = total > max_nodes
        else:
            if around not in g:
                raise UnknownItemError(batch_id, "object", around)
            ids, truncated = _neighbourhood(g, around, depth, max_nodes)
        keep = set(ids)
        nodes = [
            {"objectId": oid, "objectType": g.nodes[oid]["objectType"], "status": g.nodes[oid]["status"]}
            for oid in ids
        ]
        edges = [
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
        ]
        return Subgraph.build(
            batch_id,
            nodes,
            edges,
            around=around,
            depth=depth,
            total=total,
            truncated=truncated,
            max_nodes=max_nodes,
        )


def _neighbourhood(g: Any, start: str, depth: int, max_nodes: int) -> tuple[list[str], bool]:
    """Breadth-first over links in both directions, up to ``depth`` hops and ``max_nodes``."""
    seen = {start: 0}
    order = [start]
    queue = deque([start])
    truncated = False
    while queue:
        oid = queue.popleft()
        if seen[oid] >= depth:
            continue
        for nxt in [*g.successors(oid), *g.predecessors(oid)]:
            if nxt in seen:
                continue
            if len(order) >= max_nodes:
                truncated = True
                break
            seen[nxt] = seen[oid] + 1
            order.append(nxt)
            queue.append(nxt)
    return order, truncated
