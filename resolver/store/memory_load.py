"""The memory store's loads: a batch's graph built from a plan, and validation over it, written
plainly, for the memory store is the oracle the Neo4j store's Cypher is checked against."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import networkx as nx

from ..batchfile.plan import LoadPlan
from ..models import ValidationIssue
from ..validation import find_cycles, issue, order_issues
from .memory_graph import BatchGraph

__all__ = ["build", "check"]


def build(plan: LoadPlan) -> BatchGraph:
    """A batch's graph from a plan, read a chunk at a time; it says 'validating' until checked."""
    graph = nx.MultiDiGraph()
    counts: Counter[tuple[str, str]] = Counter()
    ready: list[str] = []
    # networkx's own dicts, filled directly: add_node and add_edge cost a quarter of a 100k-object
    # load, mostly in checks the plan already made (every id unique, every resolved end there)
    nodes, succ, pred = graph._node, graph._succ, graph._pred
    for rows in plan.objects():
        for row in rows:
            oid = row["objectId"]
            nodes[oid] = {
                "objectType": row["objectType"],
                "fields": {} if row["fields"] == "{}" else json.loads(row["fields"]),
                "identifierIds": json.loads(row["identifierIds"]) if row["existing"] else None,
                "existing": row["existing"],
                "status": row["status"],
                "unmet": row["unmet"],
                "attempt": 0,
            }
            succ[oid] = {}
            pred[oid] = {}
            counts[("object", row["status"])] += 1
            if row["status"] == "ready":
                ready.append(oid)
    ends = {}
    data: dict[str, dict[str, Any]] = {}
    unresolved: list[dict[str, Any]] = []
    for links in plan.links():
        for row in links.resolved:
            child, parent, lid = row["childId"], row["parentId"], row["linkId"]
            edge = {
                "linkTag": row["linkTag"],
                "dependent": row["dependent"],
                "separate": row["separate"],
                "status": "waiting",
                "attempt": 0,
                "place": row["place"],
                "ord": row["ord"],
            }
            keyed = succ[child].get(parent)
            if keyed is None:  # a multigraph's two ends share one dict of the links between them
                keyed = succ[child][parent] = pred[parent][child] = {}
            keyed[lid] = edge
            ends[lid] = (child, parent)
            data[lid] = edge
        unresolved.extend(links.unresolved)
        counts[("link", "waiting")] += len(links.resolved) + len(links.unresolved)
    state = BatchGraph(
        batch_id=plan.batch_id,
        status="validating",
        graph=graph,
        link_ends=ends,
        link_data=data,
        unresolved=unresolved,
        link_tags={row["linkTag"]: row for rows in plan.link_tags() for row in rows},
        references={r["referenceId"]: r["objectId"] for rows in plan.references() for r in rows},
        counts=counts,
    )
    state.ready_objects.extend(ready)
    return state


def check(b: BatchGraph) -> list[ValidationIssue]:
    """What validation finds in a loaded batch's graph, in the order every store reports it."""
    g = b.graph
    found: list[tuple[int, ValidationIssue]] = []
    for row in b.unresolved:
        if row["objectId"] not in g:
            found.append((row["ord"], issue("unknown-object", row)))
        ref = row["referenceId"]
        if ref not in g and b.references.get(ref) not in g:
            found.append((row["ord"], issue("unknown-reference", row)))
    nodes = g._node

    def edge_rows() -> Any:
        for row in b.unresolved:
            yield {**row, "childId": None}
        for k, (c, p) in b.link_ends.items():
            d = b.link_data[k]
            tag = b.link_tags.get(d["linkTag"])
            if (
                tag is not None
                and nodes[c]["objectType"] == tag["childType"]
                and nodes[p]["objectType"] == tag["parentType"]
                and not (d["dependent"] and not d["separate"] and nodes[c]["existing"])
            ):
                continue  # the common case: nothing to report
            yield {
                "linkId": k,
                "linkTag": d["linkTag"],
                "place": d["place"],
                "ord": d["ord"],
                "childId": c,
                "parentId": p,
                "dependent": d["dependent"],
                "separate": d["separate"],
            }

    for row in edge_rows():
        tag = b.link_tags.get(row["linkTag"])
        if tag is None:
            found.append((row["ord"], issue("unknown-link-tag", row)))
        elif row["childId"] is not None:
            child_type = g.nodes[row["childId"]]["objectType"]
            parent_type = g.nodes[row["parentId"]]["objectType"]
            if child_type != tag["childType"] or parent_type != tag["parentType"]:
                found.append(
                    (
                        row["ord"],
                        issue(
                            "link-tag-mismatch",
                            {
                                **row,
                                "childType": child_type,
                                "parentType": parent_type,
                                "wantChild": tag["childType"],
                                "wantParent": tag["parentType"],
                            },
                        ),
                    )
                )
        if (
            row["childId"] is not None
            and row["dependent"]
            and not row["separate"]
            and g.nodes[row["childId"]]["existing"]
        ):
            found.append((row["ord"], issue("existing-child", row)))
    dependent = ((c, p, k) for k, (c, p) in b.link_ends.items() if b.link_data[k]["dependent"])
    for cycle, link_ids in find_cycles(dependent):
        found.append((0, issue("dependency-cycle", {"cycle": cycle, "linkIds": link_ids})))
    return order_issues(found)
