"""Read-side views of a batch: why one object is where it is, and the graph around it.

``explain(store, batch_id, object_id)`` answers "why is this object not done?": its own state,
what it waits on (its dependent parents that are not complete, followed upward through the ones
that are themselves waiting, down to the items that are actually in flight, ready, failed or
blocked), the failure behind a blocked object, and its links.

``subgraph(store, batch_id, around, depth)`` is the graph to draw: the neighbourhood of one
object (``around``), or the whole batch, capped.

Both are written once here, over the narrow ``GraphReader`` each store hands out
(``store.reader(batch_id)``). Both start at one object and expand a bounded number of hops and
items, level by level: their cost follows what they show, not the size of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import UnknownItemError, UsageError
from .models import ValidationIssue
from .store.base import GraphStore

__all__ = [
    "MAX_GRAPH_NODES",
    "ExplainLimits",
    "Subgraph",
    "explain",
    "explain_text",
    "subgraph",
]

MAX_GRAPH_NODES = 5000


@dataclass(frozen=True)
class ExplainLimits:
    """How far ``explain`` looks: hops upward, objects visited, links listed."""

    max_depth: int = 100
    max_nodes: int = 1000
    max_links: int = 200


@dataclass
class Subgraph:
    """Objects (nodes) and links (edges, child -> parent) to draw; ``note`` says what was cut."""

    batch_id: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    around: str | None = None
    depth: int | None = None
    truncated: bool = False
    note: str | None = None

    @classmethod
    def build(
        cls,
        batch_id: str,
        nodes: list[dict[str, Any]],
        edges: list[dict[str, Any]],
        *,
        around: str | None,
        depth: int,
        total: int | None,
        truncated: bool,
        max_nodes: int,
    ) -> Subgraph:
        nodes.sort(key=lambda n: (n["objectId"] != around, n["objectId"]))
        edges.sort(key=lambda e: e["linkId"])
        note = None
        if truncated:
            if around is None:
                of = f" of {total}" if total is not None else ""
                note = (
                    f"showing {len(nodes)}{of} objects (the cap is {max_nodes}); "
                    "use --around OBJECT_ID --depth N to look at one part"
                )
            else:
                note = (
                    f"stopped at {len(nodes)} objects within {depth} hops of {around!r} "
                    f"(the cap is {max_nodes}); lower --depth"
                )
        return cls(batch_id, nodes, edges, around, None if around is None else depth, truncated, note)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"batchId": self.batch_id, "nodes": self.nodes, "edges": self.edges}
        if self.around is not None:
            out.update(around=self.around, depth=self.depth)
        out["truncated"] = self.truncated
        if self.note:
            out["note"] = self.note
        return out


# -- the two views --------------------------------------------------------------------------


def explain(
    store: GraphStore, batch_id: str, object_id: str, *, limits: ExplainLimits | None = None
) -> dict[str, Any]:
    """Why ``object_id`` is in its state; UnknownBatchError / UnknownItemError for unknown ids."""
    limits = limits or ExplainLimits()
    with store.reader(batch_id) as reader:
        head = reader.head()
        node = reader.object(object_id)
        if node is None:
            raise UnknownItemError(batch_id, "object", object_id)
        out = _object_entry(batch_id, head.status, object_id, node)

        def lookup(oid: str) -> Brief | None:
            found = reader.briefs([oid])
            return found[0] if found else None

        out.update(
            _ancestors_search(
                object_id,
                node["status"],
                node.get("blockedBy"),
                lambda ids: reader.parents(ids, limits.max_nodes + 1),
                limits,
                lookup,
            )
        )
        links: dict[str, dict[str, Any]] = {}
        for r in reader.links(object_id, limits.max_links):
            if r["linkId"] in links or len(links) >= limits.max_links:
                continue
            links[r["linkId"]] = _link_entry(object_id, r)
        out["links"] = list(links.values())
        out["linksTotal"] = max(int(node["degree"]), len(links))
        out["linksTruncated"] = out["linksTotal"] > len(links)
        out["errors"] = _relevant_errors(head.errors, object_id)
        return out


def subgraph(
    store: GraphStore,
    batch_id: str,
    around: str | None = None,
    depth: int = 2,
    *,
    max_nodes: int = MAX_GRAPH_NODES,
) -> Subgraph:
    """Objects within ``depth`` links of ``around`` (either direction), or the whole batch when
    ``around`` is None; at most ``max_nodes`` objects, with a note when that cut anything."""
    if depth < 0:
        raise UsageError("--depth must be 0 or more")
    if max_nodes < 1:
        raise UsageError("the node cap must be at least 1")
    with store.reader(batch_id) as reader:
        head = reader.head()
        if around is None:
            nodes = reader.objects(max_nodes + 1)
        else:
            node = reader.object(around)
            if node is None:
                raise UnknownItemError(batch_id, "object", around)
            nodes = [{"objectId": around, "objectType": node["objectType"], "status": node["status"]}]
            frontier = [around]
            seen = [around]
            for _ in range(depth):  # breadth-first, one level per read: no variable-length path
                if not frontier or len(nodes) > max_nodes:
                    break
                found = reader.neighbours(frontier, seen, max_nodes + 1 - len(nodes))
                nodes += found
                frontier = [r["objectId"] for r in found]
                seen += frontier
        truncated = len(nodes) > max_nodes
        nodes = nodes[:max_nodes]
        edges = reader.edges([n["objectId"] for n in nodes], 8 * max_nodes)
    return Subgraph.build(
        batch_id,
        nodes,
        edges,
        around=around,
        depth=depth,
        total=head.object_count,
        truncated=truncated,
        max_nodes=max_nodes,
    )


# -- pieces of the answers -------------------------------------------------------------------

Brief = dict[str, Any]  # {objectId, status, attempt, reason, blockedBy, accepted}


def _object_entry(batch_id: str, batch_status: str, object_id: str, d: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "batchStatus": batch_status,
        "objectId": object_id,
        "objectType": d.get("objectType"),
        "status": d.get("status"),
        "identifierIds": d.get("identifierIds"),
        "existing": bool(d.get("existing")),
        "unmet": d.get("unmet"),
        "attempt": d.get("attempt") or 0,
        "accepted": d.get("status") == "creating" and d.get("leaseUntil") is None,
        "blockedBy": d.get("blockedBy"),
        "reason": d.get("reason"),
    }


def _ancestors_search(
    object_id: str,
    status: str,
    blocked_by: str | None,
    parents: Callable[[list[str]], list[dict[str, Any]]],
    limits: ExplainLimits,
    lookup: Callable[[str], Brief | None],
) -> dict[str, Any]:
    """Breadth-first upward over dependent parents that are not complete, one level per call of
    ``parents(ids) -> [{childId, objectId, status, ...}]``; it passes through waiting parents
    (and blocked ones, when explaining a blocked object) and stops at the others, which form the
    frontier it reports with the shortest path to each. Iterative and bounded: a 100k-long
    chain costs ``max_depth`` levels, not 100k."""
    out: dict[str, Any] = {"waitingOn": [], "waitingOnTruncated": False, "rootCause": None}
    if status == "failed":
        me = lookup(object_id)
        out["rootCause"] = {
            "objectId": object_id,
            "status": "failed",
            "reason": me and me.get("reason"),
            "path": [object_id],
        }
        return out
    if status not in ("waiting", "blocked"):
        return out
    through = {"waiting", "blocked"} if status == "blocked" else {"waiting"}
    came_from: dict[str, str | None] = {object_id: None}
    frontier = [object_id]
    found: list[Brief] = []
    level = 0
    truncated = False
    while frontier:
        if level >= limits.max_depth:
            truncated = True
            found.extend({**r, "searchStopped": True} for r in _briefs(frontier, lookup))
            break
        rows = sorted(parents(frontier), key=lambda r: (r["childId"], r["objectId"]))
        nxt: list[str] = []
        for r in rows:
            oid = r["objectId"]
            if oid in came_from:
                continue
            if len(came_from) >= limits.max_nodes:
                truncated = True
                break
            came_from[oid] = r["childId"]
            if r["status"] in through:
                nxt.append(oid)
            else:
                found.append({k: v for k, v in r.items() if k != "childId"})
        frontier = nxt
        level += 1
    for item in found:
        item["path"] = _path(came_from, item["objectId"])
    out["waitingOn"] = found
    out["waitingOnTruncated"] = truncated
    if status == "blocked" and blocked_by:
        hit = next((f for f in found if f["objectId"] == blocked_by), None)
        root = hit or lookup(blocked_by) or {"objectId": blocked_by, "status": None}
        out["rootCause"] = {
            "objectId": blocked_by,
            "status": root.get("status"),
            "reason": root.get("reason"),
            "path": hit["path"] if hit else None,
        }
    return out


def _briefs(ids: list[str], lookup: Callable[[str], Brief | None]) -> list[Brief]:
    return [b for b in (lookup(i) for i in ids) if b is not None]


def _path(came_from: Mapping[str, str | None], oid: str) -> list[str]:
    path = [oid]
    step = came_from[oid]
    while step is not None:
        path.append(step)
        step = came_from[step]
    path.reverse()
    return path


def _link_entry(object_id: str, r: Mapping[str, Any]) -> dict[str, Any]:
    child, parent, status = r["child"], r["parent"], r["status"]
    entry: dict[str, Any] = {
        "linkId": r["linkId"],
        "linkTag": r["linkTag"],
        "linkType": "dependent" if r["dependent"] else "independent",
        "separate": bool(r["separate"]),
        "role": "child" if child["objectId"] == object_id else "parent",
        "child": child["objectId"],
        "parent": parent["objectId"],
        "status": status,
    }
    if status == "waiting":
        # What holds it: a dependent link completes (or becomes ready) with its child; an
        # independent one needs both ends complete.
        ends = [child] if r["dependent"] else [child, parent]
        entry["waitingOn"] = [
            {"objectId": e["objectId"], "status": e["status"]} for e in ends if e["status"] != "complete"
        ]
    if r.get("reason"):
        entry["reason"] = r["reason"]
    if r.get("blockedBy"):
        entry["blockedBy"] = r["blockedBy"]
    return entry


def _relevant_errors(errors: Sequence[ValidationIssue], object_id: str) -> list[ValidationIssue]:
    return [e for e in errors if e.get("objectId") == object_id or object_id in (e.get("cycle") or ())]


# -- words ------------------------------------------------------------------------------------


def _state(item: Mapping[str, Any]) -> str:
    status = item.get("status")
    if status == "creating":
        how = "accepted, awaiting its completion" if item.get("accepted") else "in flight"
        return f"creating, dispatched attempt {item.get('attempt') or 1}, {how}"
    if status == "ready":
        return "ready, not dispatched yet"
    if status == "failed":
        return f"failed: {item.get('reason') or 'no reason given'}"
    if status == "blocked":
        return f"blocked by {item.get('blockedBy')}" if item.get("blockedBy") else "blocked"
    if status == "waiting" and item.get("searchStopped"):
        return "waiting; the search stopped here"
    return str(status)


def _arrow(path: Sequence[str] | None) -> str:
    return " -> ".join(path or ())


def explain_text(info: Mapping[str, Any]) -> str:
    """A few readable lines from ``explain``'s answer."""
    oid, status = info["objectId"], info["status"]
    head = f"{oid} ({info['objectType']})"
    lines: list[str] = []
    waiting_on = info.get("waitingOn") or []
    if status == "waiting":
        if len(waiting_on) == 1:
            item = waiting_on[0]
            if len(item["path"]) == 2:
                lines.append(f"{head} is waiting: it depends on {item['objectId']} ({_state(item)})")
            else:
                lines.append(
                    f"{head} is waiting: upstream, it waits on {item['objectId']} "
                    f"({_state(item)}) via {_arrow(item['path'])}"
                )
        elif waiting_on:
            lines.append(
                f"{head} is waiting on {info.get('unmet')} dependent parent(s); upstream, it waits on:"
            )
            lines += [f"  {w['objectId']} ({_state(w)}) via {_arrow(w['path'])}" for w in waiting_on]
        else:
            lines.append(f"{head} is waiting on {info.get('unmet')} dependent parent(s)")
        if info.get("waitingOnTruncated"):
            lines.append("  (the search upward stopped at its limit; more may be upstream)")
    elif status == "blocked":
        root = info.get("rootCause") or {}
        via = f" via {_arrow(root.get('path'))}" if root.get("path") else ""
        lines.append(
            f"{head} is blocked: {root.get('objectId')} failed{via}: "
            f"{root.get('reason') or 'no reason given'}"
        )
        lines.append(f"  'resolver retry {info['batchId']} {root.get('objectId')}' puts them back")
    elif status == "failed":
        lines.append(f"{head} failed: {info.get('reason') or 'no reason given'}")
        lines.append(f"  'resolver retry {info['batchId']} {oid}' puts it and what it blocked back")
    elif status == "creating":
        lines.append(f"{head} is {_state(info)}")
    elif status == "ready":
        lines.append(f"{head} is ready: every dependent parent is complete; the next run dispatches it")
    elif status == "complete":
        ids = info.get("identifierIds")
        lines.append(f"{head} is complete" + (f" with identifierIds {json.dumps(ids)}" if ids else ""))
    else:
        lines.append(f"{head} is {status}")
    if info.get("batchStatus") == "error":
        lines.append(f"batch {info['batchId']} has validation errors: nothing of it is dispatched")
        lines += [f"  {e.get('code')}: {e.get('message')}" for e in info.get("errors") or []]
    links = info.get("links") or []
    if links:
        lines.append("links:")
        for link in links:
            arrow = f"{link['child']} -[{link['linkTag']}]-> {link['parent']}"
            line = f"  {link['linkId']} {link['linkType']} {arrow}: {link['status']}"
            if link.get("waitingOn"):
                line += (
                    " (waits on "
                    + ", ".join(f"{w['objectId']}: {w['status']}" for w in link["waitingOn"])
                    + ")"
                )
            if link.get("blockedBy"):
                line += f" (blocked by {link['blockedBy']})"
            if link.get("reason"):
                line += f" ({link['reason']})"
            lines.append(line)
        if info.get("linksTruncated"):
            lines.append(f"  ... {info['linksTotal'] - len(links)} more")
    return "\n".join(lines)
