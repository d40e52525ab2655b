"""Read-side views (``resolver.views``) on Neo4j: named queries in ``cypher/explain_*.cypher``
and ``cypher/subgraph_*.cypher``, each starting with an index seek on (batchId, objectId) and
expanding a bounded number of hops with LIMIT; searches loop level by level in Python inside
one read transaction, like the store's blocking walk, instead of variable-length paths.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import UnknownBatchError, UnknownItemError
from ..views import (
    ExplainLimits,
    Subgraph,
    ancestors_search,
    link_entry,
    object_entry,
    relevant_errors,
)
from .neo4j import _run

if TYPE_CHECKING:
    import neo4j

    from .neo4j import Neo4jStore

__all__ = ["explain", "subgraph"]


def explain(store: Neo4jStore, batch_id: str, object_id: str, limits: ExplainLimits) -> dict[str, Any]:
    def work(tx: neo4j.ManagedTransaction) -> dict[str, Any]:
        head = _run(tx, "explain_object", batchId=batch_id, objectId=object_id)
        if not head or head[0]["batchStatus"] == "loading":
            raise UnknownBatchError(batch_id)
        row = head[0]
        if row["object"] is None:
            raise UnknownItemError(batch_id, "object", object_id)
        node = dict(row["object"])
        node["identifierIds"] = json.loads(node["identifierIds"]) if node.get("identifierIds") else None
        out = object_entry(batch_id, row["batchStatus"], object_id, node)

        def parents(ids: list[str]) -> list[dict[str, Any]]:
            rows = _run(tx, "explain_parents", batchId=batch_id, ids=ids, limit=limits.max_nodes + 1)
            return [_brief(r, childId=r["childId"]) for r in rows]

        def lookup(oid: str) -> dict[str, Any] | None:
            rows = _run(tx, "explain_brief", batchId=batch_id, ids=[oid])
            return _brief(rows[0]) if rows else None

        out.update(
            ancestors_search(object_id, node["status"], node.get("blockedBy"), parents, limits, lookup)
        )
        links: dict[str, dict[str, Any]] = {}
        for r in _run(tx, "explain_links", batchId=batch_id, objectId=object_id, limit=limits.max_links):
            if r["linkId"] in links or len(links) >= limits.max_links:
                continue
            links[r["linkId"]] = link_entry(
                object_id,
                r["linkId"],
                r["linkTag"],
                r["dependent"],
                r["separate"],
                r["status"],
                {"objectId": r["childId"], "status": r["childStatus"], "attempt": r["childAttempt"]},
                {"objectId": r["parentId"], "status": r["parentStatus"], "attempt": r["parentAttempt"]},
                r["reason"],
                r["blockedBy"],
            )
        out["links"] = list(links.values())
        out["linksTotal"] = max(int(row["degree"]), len(links))
        out["linksTruncated"] = out["linksTotal"] > len(links)
        out["errors"] = relevant_errors(json.loads(row["errors"] or "[]"), object_id)
        return out

    return store._read(work)


def _brief(r: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "objectId": r["objectId"],
        "status": r["status"],
        "attempt": r["attempt"] or 0,
        "reason": r["reason"],
        "blockedBy": r["blockedBy"],
        "accepted": r["status"] == "creating" and bool(r["noLease"]),
        **extra,
    }


def subgraph(store: Neo4jStore, batch_id: str, around: str | None, depth: int, max_nodes: int) -> Subgraph:
    def work(tx: neo4j.ManagedTransaction) -> Subgraph:
        head = _run(tx, "subgraph_start", batchId=batch_id, objectId=around)
        if not head or head[0]["batchStatus"] == "loading":
            raise UnknownBatchError(batch_id)
        total = head[0]["objectCount"]
        if around is None:
            nodes = _run(tx, "subgraph_batch", batchId=batch_id, limit=max_nodes + 1)
        else:
            if head[0]["objectId"] is None:
                raise UnknownItemError(batch_id, "object", around)
            nodes = [{k: head[0][k] for k in ("objectId", "objectType", "status")}]
            frontier = [around]
            seen = [around]
            for _ in range(depth):
                if not frontier or len(nodes) > max_nodes:
                    break
                found = _run(
                    tx,
                    "subgraph_neighbours",
                    batchId=batch_id,
                    ids=frontier,
                    seen=seen,
                    limit=max_nodes + 1 - len(nodes),
                )
                nodes += found
                frontier = [r["objectId"] for r in found]
                seen += frontier
        truncated = len(nodes) > max_nodes
        nodes = nodes[:max_nodes]
        ids = [n["objectId"] for n in nodes]
        edges = _run(tx, "subgraph_edges", batchId=batch_id, ids=ids, limit=8 * max_nodes)
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

    return store._read(work)
