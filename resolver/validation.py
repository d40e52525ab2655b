"""What both stores share about validation: load rows (``plan``: references resolved the same
way everywhere; re-exported here), finding dependency cycles, and wording each error code.

The checks themselves run inside each store (Cypher on Neo4j, Python on the memory store); they
hand back plain rows and this module makes the issues, so both stores speak alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from .models import ValidationIssue
from .plan import LoadPlan, plan_load

__all__ = ["CODES", "LoadPlan", "find_cycles", "issue", "order_issues", "plan_load"]

CODES = (
    "unknown-object",
    "unknown-reference",
    "unknown-link-tag",
    "link-tag-mismatch",
    "existing-child",
    "dependency-cycle",
)


def find_cycles(edges: Iterable[tuple[str, str, str]]) -> list[tuple[list[str], list[str]]]:
    """One cycle per strongly connected component of the dependent-link graph, as
    (objectIds a..a in dependency order, the linkIds along it). Iterative: no recursion limit.

    Kahn's peel first (plain dicts): an object none of whose dependent parents is left cannot be
    on a cycle, so it goes, and its children lose one parent each. A valid batch is peeled to
    nothing and networkx never runs; otherwise only what is left (the cycles and what hangs
    below them) goes to the SCC search, in the original edge order, so the cycles found are the
    same as without the peel."""
    edge_list = list(edges)
    parents_left: dict[str, int] = {}
    children: dict[str, list[str]] = {}
    for child, parent, _ in edge_list:
        parents_left[child] = parents_left.get(child, 0) + 1
        children.setdefault(parent, []).append(child)
        parents_left.setdefault(parent, 0)
    free = [n for n, k in parents_left.items() if k == 0]
    while free:
        node = free.pop()
        for child in children.get(node, ()):
            parents_left[child] -= 1
            if parents_left[child] == 0:
                free.append(child)
    stuck = {n for n, k in parents_left.items() if k}
    if not stuck:
        return []
    import networkx as nx  # only a batch with a cycle gets here

    graph = nx.DiGraph()
    for child, parent, link_id in edge_list:
        if child not in stuck or parent not in stuck or graph.has_edge(child, parent):
            continue
        graph.add_edge(child, parent, linkId=link_id)
    cycles = []
    for component in nx.strongly_connected_components(graph):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        ring = _walk_to_cycle(graph, component, start)
        k = ring.index(min(ring))
        ring = ring[k:] + ring[:k]
        nodes = [*ring, ring[0]]
        link_ids = [graph.edges[a, b]["linkId"] for a, b in itertools.pairwise(nodes)]
        cycles.append((nodes, link_ids))
    cycles.sort()
    return cycles


def _walk_to_cycle(graph: Any, component: set[str], start: str) -> list[str]:
    """Inside a strongly connected component every node has a successor in it, so following
    one until a node repeats closes a cycle: linear in its size (networkx's find_cycle on a
    subgraph view took seconds for a 100k-long ring)."""
    seen: dict[str, int] = {}
    path: list[str] = []
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(n for n in graph.succ[node] if n in component)
    return path[seen[node] :]


def issue(code: str, row: Mapping[str, Any]) -> ValidationIssue:
    """Word one validation error from a store's row."""
    where = f"link {row.get('linkId')!r} ({row.get('place')})"
    if code == "unknown-object":
        return {
            "code": code,
            "linkId": row["linkId"],
            "objectId": row["objectId"],
            "message": f"{where}: child object {row['objectId']!r} is not in the batch",
        }
    if code == "unknown-reference":
        return {
            "code": code,
            "linkId": row["linkId"],
            "referenceId": row["referenceId"],
            "message": f"{where}: reference {row['referenceId']!r} is neither a referenceId "
            "nor an objectId of the batch",
        }
    if code == "unknown-link-tag":
        return {
            "code": code,
            "linkId": row["linkId"],
            "linkTag": row["linkTag"],
            "message": f"{where}: link tag {row['linkTag']!r} is not declared in linkTags",
        }
    if code == "link-tag-mismatch":
        wrong = []
        if row["childType"] != row["wantChild"]:
            wrong.append(f"child {row['childId']!r} is a {row['childType']!r}")
        if row["parentType"] != row["wantParent"]:
            wrong.append(f"parent {row['parentId']!r} is a {row['parentType']!r}")
        return {
            "code": code,
            "linkId": row["linkId"],
            "linkTag": row["linkTag"],
            "objectId": row["childId"],
            "message": f"{where}: tag {row['linkTag']!r} links a {row['wantChild']!r} to a "
            f"{row['wantParent']!r}, but {' and '.join(wrong)}",
        }
    if code == "existing-child":
        return {
            "code": code,
            "linkId": row["linkId"],
            "objectId": row["childId"],
            "message": f"{where}: child {row['childId']!r} already exists (it has "
            "identifierIds), so it cannot be created with this dependent link; "
            "set separateDependentLinkCreate or make the link independent",
        }
    if code == "dependency-cycle":
        cycle, link_ids = row["cycle"], row["linkIds"]
        steps = "".join(f" -[{lid}]-> {obj}" for lid, obj in zip(link_ids, cycle[1:], strict=True))
        return {
            "code": code,
            "cycle": list(cycle),
            "linkIds": list(link_ids),
            "objectId": cycle[0],
            "message": f"dependent links form a cycle: {cycle[0]}{steps}; making one of them "
            f"independent (for instance {link_ids[-1]!r}) breaks it",
        }
    raise ValueError(f"unknown validation code {code!r}")


def order_issues(found: Iterable[tuple[int, ValidationIssue]]) -> list[ValidationIssue]:
    """Errors by code (as CODES lists them), then in file order of the link they concern."""
    rank = {code: i for i, code in enumerate(CODES)}
    return [e for _, e in sorted(found, key=lambda t: (rank[t[1]["code"]], t[0], t[1].get("cycle", [])))]
