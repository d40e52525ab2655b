"""What both stores share about validation: load rows (``plan``: references resolved the same
way everywhere; re-exported here), finding dependency cycles, and wording each error code.

The checks themselves run inside each store (Cypher on Neo4j, Python on the memory store); they
hand back plain rows and this module makes the issues, so both stores speak alike.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Mapping
from typing import Any

from .batchfile.plan import LoadPlan, plan_load
from .models import ValidationIssue

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

    Kahn's peel first: an object none of whose dependent parents is left cannot be on a cycle,
    so it goes, and its children lose one parent each. A valid batch is peeled to nothing and
    networkx never runs; otherwise only what is left (the cycles and what hangs below them) goes
    to the SCC search, in the original edge order, so the cycles found are the same as without
    the peel. Objects are numbered and the counts and children kept in arrays: a million edges
    cost tens of MiB here, not hundreds."""
    number: dict[str, int] = {}
    children_of: array[int] = array("i")  # per edge: the child's number
    parent_of: array[int] = array("i")
    edge_links: list[str] = []
    for child, parent, link_id in edges:
        children_of.append(number.setdefault(child, len(number)))
        parent_of.append(number.setdefault(parent, len(number)))
        edge_links.append(link_id)
    n = len(number)
    parents_left = array("i", [0]) * n
    first = array("i", [0]) * (n + 1)  # a parent's children: kids[first[p]:first[p + 1]]
    for c, p in zip(children_of, parent_of, strict=True):
        parents_left[c] += 1
        first[p + 1] += 1
    for i in range(n):
        first[i + 1] += first[i]
    kids = array("i", [0]) * len(children_of)
    fill = array("i", first)
    for c, p in zip(children_of, parent_of, strict=True):
        kids[fill[p]] = c
        fill[p] += 1
    del fill
    free = array("i", (i for i in range(n) if parents_left[i] == 0))
    while free:
        node = free.pop()
        for k in range(first[node], first[node + 1]):
            kid = kids[k]
            parents_left[kid] -= 1
            if parents_left[kid] == 0:
                free.append(kid)
    if not any(parents_left):
        return []
    import networkx as nx  # only a batch with a cycle gets here

    names = list(number)
    graph = nx.DiGraph()
    for c, p, link_id in zip(children_of, parent_of, edge_links, strict=True):
        if not parents_left[c] or not parents_left[p]:
            continue
        child, parent = names[c], names[p]
        if not graph.has_edge(child, parent):
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
