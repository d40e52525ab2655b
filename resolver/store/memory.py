"""The in-process store: a networkx multigraph per batch, with the same state machine as Neo4j.

It serves one-process runs without a server and is the oracle the Neo4j store is checked
against in the differential tests, so it favours plain, obviously-right code.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..errors import BatchExistsError, BatchStateError, UnknownBatchError
from ..models import (
    Batch,
    BatchStatus,
    Claim,
    CreateLink,
    CreateObject,
    Identifiers,
    Outcome,
    ParentRef,
    ValidationIssue,
)
from ..plan import LoadPlan, plan_load
from ..validation import find_cycles, issue, order_issues
from .base import Finish, ItemKind, Progress

__all__ = ["MemoryStore"]


@dataclass
class _Batch:
    batch_id: str
    status: str
    graph: Any  # nx.MultiDiGraph: node = objectId, edge key = linkId
    link_ends: dict[str, tuple[str, str]]
    link_data: dict[str, dict[str, Any]]  # linkId -> the edge's data dict in the graph
    unresolved: list[dict[str, Any]]
    link_tags: dict[str, dict[str, Any]]
    references: dict[str, str]
    errors: list[ValidationIssue] = field(default_factory=list)
    ready_objects: deque[str] = field(default_factory=deque)
    ready_links: deque[str] = field(default_factory=deque)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def obj(self, object_id: str) -> dict[str, Any]:
        return self.graph._node[object_id]  # type: ignore[no-any-return]

    def link(self, link_id: str) -> dict[str, Any]:
        return self.link_data[link_id]

    def set_object(self, object_id: str, status: str) -> None:
        node = self.obj(object_id)
        self.counts[("object", node["status"])] -= 1
        self.counts[("object", status)] += 1
        node["status"] = status
        if status == "ready":
            self.ready_objects.append(object_id)

    def set_link(self, link_id: str, status: str) -> None:
        edge = self.link(link_id)
        self.counts[("link", edge["status"])] -= 1
        self.counts[("link", status)] += 1
        edge["status"] = status
        if status == "ready":
            self.ready_links.append(link_id)


class MemoryStore:
    name = "memory"
    parallel_writes = False  # one lock, one interpreter: a second thread only adds switching

    def __init__(self) -> None:
        self._batches: dict[str, _Batch] = {}
        self._lock = threading.RLock()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "in-process memory store (networkx)"

    def _get(self, batch_id: str) -> _Batch:
        try:
            return self._batches[batch_id]
        except KeyError:
            raise UnknownBatchError(batch_id) from None

    # -- loading ------------------------------------------------------------------------------

    def load(
        self, batch: Batch | LoadPlan, *, replace: bool = False, places: Mapping[int, str] | None = None
    ) -> None:
        plan = batch if isinstance(batch, LoadPlan) else plan_load(batch, places)
        with self._lock:
            if plan.batch_id in self._batches and not replace:
                raise BatchExistsError(plan.batch_id)
            gc_was_enabled = gc.isenabled()
            gc.disable()  # nothing built here is garbage: no collector passes over the growing graph
            try:
                self._load(plan)
            finally:
                if gc_was_enabled:
                    gc.enable()

    def _load(self, plan: LoadPlan) -> None:
        graph = nx.MultiDiGraph()
        counts: Counter[tuple[str, str]] = Counter()
        ready: list[str] = []
        for rows in plan.objects():
            for row in rows:
                graph.add_node(
                    row["objectId"],
                    objectType=row["objectType"],
                    fields={} if row["fields"] == "{}" else json.loads(row["fields"]),
                    identifierIds=json.loads(row["identifierIds"]) if row["existing"] else None,
                    existing=row["existing"],
                    status=row["status"],
                    unmet=row["unmet"],
                    attempt=0,
                )
                counts[("object", row["status"])] += 1
                if row["status"] == "ready":
                    ready.append(row["objectId"])
        ends = {}
        data: dict[str, dict[str, Any]] = {}
        unresolved: list[dict[str, Any]] = []
        succ = graph._succ
        for links in plan.links():
            for row in links.resolved:
                graph.add_edge(
                    row["childId"],
                    row["parentId"],
                    key=row["linkId"],
                    linkTag=row["linkTag"],
                    dependent=row["dependent"],
                    separate=row["separate"],
                    status="waiting",
                    attempt=0,
                    place=row["place"],
                    ord=row["ord"],
                )
                ends[row["linkId"]] = (row["childId"], row["parentId"])
                data[row["linkId"]] = succ[row["childId"]][row["parentId"]][row["linkId"]]
                counts[("link", "waiting")] += 1
            unresolved.extend(links.unresolved)
            counts[("link", "waiting")] += len(links.unresolved)
        state = _Batch(
            batch_id=plan.batch_id,
            status="loaded",
            graph=graph,
            link_ends=ends,
            link_data=data,
            unresolved=unresolved,
            link_tags={row["linkTag"]: row for rows in plan.link_tags() for row in rows},
            references={r["referenceId"]: r["objectId"] for rows in plan.references() for r in rows},
            counts=counts,
        )
        state.ready_objects.extend(ready)
        self._batches[plan.batch_id] = state

    def validate(self, batch_id: str) -> list[ValidationIssue]:
        with self._lock:
            b = self._get(batch_id)
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
            b.errors = order_issues(found)
            b.status = "error" if b.errors else "loaded"
            return list(b.errors)

    def delete(self, batch_id: str) -> bool:
        with self._lock:
            return self._batches.pop(batch_id, None) is not None

    # -- processing ---------------------------------------------------------------------------

    def start(self, batch_id: str) -> str:
        with self._lock:
            b = self._get(batch_id)
            if b.status == "loaded":
                b.status = "processing"
            return b.status

    def claim(self, batch_id: str, *, worker: str, limit: int, lease_seconds: float) -> list[Claim]:
        with self._lock:
            b = self._get(batch_id)
            out: list[Claim] = []
            if b.status != "processing":
                return out
            until = time.time() + lease_seconds
            while b.ready_objects and len(out) < limit:
                oid = b.ready_objects.popleft()
                node = b.obj(oid)
                if node["status"] != "ready":
                    continue
                b.set_object(oid, "creating")
                node["attempt"] += 1
                node.update(claimedBy=worker, leaseUntil=until)
                out.append(self._object_claim(b, batch_id, oid, node))
            while b.ready_links and len(out) < limit:
                lid = b.ready_links.popleft()
                edge = b.link(lid)
                if edge["status"] != "ready":
                    continue
                b.set_link(lid, "creating")
                edge["attempt"] += 1
                edge.update(claimedBy=worker, leaseUntil=until)
                out.append(self._link_claim(b, batch_id, lid, edge))
            return out

    def _object_claim(self, b: _Batch, batch_id: str, oid: str, node: dict[str, Any]) -> Claim:
        if node["existing"]:
            return Claim("object", oid, node["attempt"], None, node["identifierIds"])
        parents: list[ParentRef] = [
            {"linkId": k, "linkTag": d["linkTag"], "objectId": p, "identifierIds": b.obj(p)["identifierIds"]}
            for p, keyed in b.graph._succ[oid].items()
            for k, d in keyed.items()
            if d["dependent"]
        ]
        parents.sort(key=lambda r: r["linkId"])
        msg: CreateObject = {
            "kind": "create-object",
            "batchId": batch_id,
            "objectId": oid,
            "objectType": node["objectType"],
            "fields": node["fields"],
            "idempotencyKey": f"{batch_id}/object/{oid}",
            "parents": parents,
        }
        return Claim("object", oid, node["attempt"], msg)

    def _link_claim(self, b: _Batch, batch_id: str, lid: str, edge: dict[str, Any]) -> Claim:
        child, parent = b.link_ends[lid]
        msg: CreateLink = {
            "kind": "create-link",
            "batchId": batch_id,
            "linkId": lid,
            "linkTag": edge["linkTag"],
            "idempotencyKey": f"{batch_id}/link/{lid}",
            "child": {"objectId": child, "identifierIds": b.obj(child)["identifierIds"]},
            "parent": {"objectId": parent, "identifierIds": b.obj(parent)["identifierIds"]},
        }
        return Claim("link", lid, edge["attempt"], msg)

    def reclaim_expired(self, batch_id: str, *, now: float) -> int:
        with self._lock:
            b = self._get(batch_id)
            n = 0
            if not b.counts[("object", "creating")] + b.counts[("link", "creating")]:
                return 0
            for oid, node in b.graph.nodes(data=True):
                if node["status"] == "creating" and (node.get("leaseUntil") or now + 1) < now:
                    b.set_object(oid, "ready")
                    n += 1
            for lid in b.link_ends:
                edge = b.link(lid)
                if edge["status"] == "creating" and (edge.get("leaseUntil") or now + 1) < now:
                    b.set_link(lid, "ready")
                    n += 1
            return n

    def renew(self, batch_id: str, *, worker: str, lease_seconds: float) -> int:
        with self._lock:
            b = self._get(batch_id)
            until = time.time() + lease_seconds
            n = 0
            items = [b.obj(o) for o in b.graph] + [b.link(lid) for lid in b.link_ends]
            for data in items:
                if (
                    data["status"] == "creating"
                    and data.get("claimedBy") == worker
                    and data.get("leaseUntil")
                ):
                    data["leaseUntil"] = until
                    n += 1
            return n

    def accept(self, batch_id: str, items: Sequence[tuple[ItemKind, str]]) -> None:
        with self._lock:
            b = self._get(batch_id)
            for kind, item_id in items:
                data = b.obj(item_id) if kind == "object" else b.link(item_id)
                if data["status"] == "creating":
                    data["leaseUntil"] = None

    def complete_objects(self, batch_id: str, items: Sequence[tuple[str, Identifiers]]) -> list[Outcome]:
        with self._lock:
            b = self._get(batch_id)
            out = []
            g = b.graph
            for oid, ids in items:
                if oid not in g:
                    out.append(Outcome("object", oid, False, None))
                    continue
                node = g._node[oid]
                if node["status"] != "creating":
                    out.append(Outcome("object", oid, False, node["status"]))
                    continue
                b.set_object(oid, "complete")
                node["identifierIds"] = dict(ids)
                node["leaseUntil"] = None
                out.append(Outcome("object", oid, True, "complete"))
                # the adjacency dicts directly (no networkx views): the hot loop of a run
                nodes = g._node
                for parent, keyed in g._succ[oid].items():
                    for lid, d in keyed.items():
                        if d["status"] != "waiting":
                            continue
                        if d["dependent"]:
                            b.set_link(lid, "ready" if d["separate"] else "complete")
                        elif nodes[parent]["status"] == "complete":
                            b.set_link(lid, "ready")
                for child, keyed in g._pred[oid].items():
                    cnode = nodes[child]
                    for lid, d in keyed.items():
                        if d["dependent"]:
                            cnode["unmet"] -= 1
                            if cnode["unmet"] == 0 and cnode["status"] == "waiting":
                                b.set_object(child, "ready")
                        elif d["status"] == "waiting" and cnode["status"] == "complete" and child != oid:
                            b.set_link(lid, "ready")
            return out

    def complete_links(self, batch_id: str, link_ids: Sequence[str]) -> list[Outcome]:
        with self._lock:
            b = self._get(batch_id)
            out = []
            for lid in link_ids:
                if lid not in b.link_ends:
                    out.append(Outcome("link", lid, False, None))
                    continue
                edge = b.link(lid)
                if edge["status"] != "creating":
                    out.append(Outcome("link", lid, False, edge["status"]))
                    continue
                b.set_link(lid, "complete")
                edge["leaseUntil"] = None
                out.append(Outcome("link", lid, True, "complete"))
            return out

    def fail(self, batch_id: str, kind: ItemKind, item_id: str, reason: str) -> Outcome:
        with self._lock:
            b = self._get(batch_id)
            g = b.graph
            if kind == "link":
                if item_id not in b.link_ends:
                    return Outcome("link", item_id, False, None)
                edge = b.link(item_id)
                if edge["status"] != "creating":
                    return Outcome("link", item_id, False, edge["status"])
                b.set_link(item_id, "failed")
                edge.update(reason=reason, leaseUntil=None)
                return Outcome("link", item_id, True, "failed")
            if item_id not in g:
                return Outcome("object", item_id, False, None)
            node = g.nodes[item_id]
            if node["status"] != "creating":
                return Outcome("object", item_id, False, node["status"])
            b.set_object(item_id, "failed")
            node.update(reason=reason, leaseUntil=None)
            # breadth-first over dependents: iterative, so a 100k-long chain is fine
            frontier = deque([item_id])
            while frontier:
                current = frontier.popleft()
                for c, p, lid, d in [
                    *g.in_edges(current, keys=True, data=True),
                    *g.out_edges(current, keys=True, data=True),
                ]:
                    if d["status"] in ("waiting", "ready"):
                        b.set_link(lid, "blocked")
                        d["blockedBy"] = item_id
                    if d["dependent"] and p == current and g.nodes[c]["status"] == "waiting":
                        b.set_object(c, "blocked")
                        g.nodes[c]["blockedBy"] = item_id
                        frontier.append(c)
            return Outcome("object", item_id, True, "failed")

    def progress(self, batch_id: str) -> Progress:
        with self._lock:
            c = self._get(batch_id).counts
            return Progress(
                ready=c[("object", "ready")] + c[("link", "ready")],
                creating=c[("object", "creating")] + c[("link", "creating")],
                waiting=c[("object", "waiting")] + c[("link", "waiting")],
            )

    def finish(self, batch_id: str) -> Finish | None:
        with self._lock:
            b = self._get(batch_id)
            if b.status != "processing" or self.progress(batch_id).unfinished:
                return None
            bad = sum(n for (_, s), n in b.counts.items() if s in ("failed", "blocked"))
            b.status = "failed" if bad else "complete"
            return Finish(b.status)

    def retry(self, batch_id: str, object_id: str | None = None) -> int:
        with self._lock:
            b = self._get(batch_id)
            if b.status == "error":
                raise BatchStateError(f"batch {batch_id!r} has validation errors; fix and reload")
            g = b.graph
            n = 0
            for oid, node in g.nodes(data=True):
                if node["status"] not in ("failed", "blocked"):
                    continue
                if object_id is not None and oid != object_id and node.get("blockedBy") != object_id:
                    continue
                unmet = sum(
                    1
                    for _, p, d in g.out_edges(oid, data=True)
                    if d["dependent"] and g.nodes[p]["status"] != "complete"
                )
                node.update(unmet=unmet, reason=None, blockedBy=None)
                b.set_object(oid, "waiting" if unmet else "ready")
                n += 1
            for lid, (child, parent) in b.link_ends.items():
                edge = b.link(lid)
                if edge["status"] not in ("failed", "blocked"):
                    continue
                if (
                    object_id is not None
                    and object_id not in (child, parent)
                    and edge.get("blockedBy") != object_id
                ):
                    continue
                ends_done = g.nodes[child]["status"] == "complete" and (
                    edge["dependent"] or g.nodes[parent]["status"] == "complete"
                )
                edge.update(reason=None, blockedBy=None)
                if ends_done and (edge["separate"] or not edge["dependent"]):
                    b.set_link(lid, "ready")
                else:
                    b.set_link(lid, "complete" if ends_done else "waiting")
                n += 1
            if n and b.status in ("failed", "complete"):
                b.status = "processing"
            return n

    # -- reading ------------------------------------------------------------------------------

    def status(self, batch_id: str, *, detail: bool = False) -> BatchStatus:
        with self._lock:
            b = self._get(batch_id)
            objects = {s: n for (k, s), n in sorted(b.counts.items()) if k == "object" and n}
            links = {s: n for (k, s), n in sorted(b.counts.items()) if k == "link" and n}
            g = b.graph
            failures = [
                {
                    "kind": "object",
                    "objectId": oid,
                    "status": d["status"],
                    **({"reason": d["reason"]} if d.get("reason") else {}),
                    **({"blockedBy": d["blockedBy"]} if d.get("blockedBy") else {}),
                }
                for oid, d in g.nodes(data=True)
                if d["status"] == "failed"
            ] + [
                {"kind": "link", "linkId": lid, "status": "failed", "reason": b.link(lid).get("reason")}
                for lid in b.link_ends
                if b.link(lid)["status"] == "failed"
            ]
            out = BatchStatus(batch_id, b.status, objects, links, list(b.errors), failures=failures)
            if detail:
                out.objectList = [_object_row(oid, d) for oid, d in g.nodes(data=True)]
                out.linkList = [_link_row(lid, b.link(lid), *b.link_ends[lid]) for lid in b.link_ends] + [
                    {
                        "linkId": r["linkId"],
                        "status": "waiting",
                        "linkTag": r["linkTag"],
                        "objectId": r["objectId"],
                        "referenceId": r["referenceId"],
                    }
                    for r in b.unresolved
                ]
                out.linkList.sort(key=lambda r: r["linkId"])
                out.objectList.sort(key=lambda r: r["objectId"])
            return out

    def batch_status(self, batch_id: str) -> str:
        with self._lock:
            return self._get(batch_id).status

    def batch_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._batches)


def _object_row(oid: str, d: dict[str, Any]) -> dict[str, Any]:
    row = {
        "objectId": oid,
        "objectType": d["objectType"],
        "status": d["status"],
        "identifierIds": d["identifierIds"],
        "attempt": d["attempt"],
    }
    for key in ("reason", "blockedBy"):
        if d.get(key):
            row[key] = d[key]
    return row


def _link_row(lid: str, d: dict[str, Any], child: str, parent: str) -> dict[str, Any]:
    row = {
        "linkId": lid,
        "status": d["status"],
        "linkTag": d["linkTag"],
        "linkType": "dependent" if d["dependent"] else "independent",
        "objectId": child,
        "parentObjectId": parent,
    }
    for key in ("reason", "blockedBy"):
        if d.get(key):
            row[key] = d[key]
    return row
