"""The in-process store: a networkx multigraph per batch, with the same state machine as Neo4j.

It serves one-process runs without a server and is the oracle the Neo4j store is checked
against in the differential tests, so it favours plain, obviously-right code.
"""

from __future__ import annotations

import gc
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from .. import messages
from ..batchfile.plan import LoadPlan, plan_load
from ..errors import (
    BatchExistsError,
    BatchLoadingError,
    BatchReplacedError,
    BatchStateError,
    UnknownBatchError,
)
from ..models import (
    Batch,
    BatchComplete,
    BatchStatus,
    Claim,
    Identifiers,
    ItemKind,
    Outcome,
    ParentRef,
    ValidationIssue,
)
from .base import REPORTED_ATTEMPTS, Failure, Finish, GraphReader, Progress, Started, in_flight_error
from .memory_graph import BatchGraph
from .memory_load import build, check
from .memory_reader import MemoryReader

__all__ = ["MemoryStore"]


class MemoryStore:
    name = "memory"
    parallel_writes = False  # one lock, one interpreter: a second thread only adds switching

    def __init__(self) -> None:
        self._batches: dict[str, BatchGraph] = {}
        self._lock = threading.RLock()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "in-process memory store (networkx)"

    def _get(self, batch_id: str) -> BatchGraph:
        """The batch, for anything but its own load and validation; a load never validated is
        not a batch yet."""
        b = self._batches.get(batch_id)
        if b is None:
            raise UnknownBatchError(batch_id)
        if b.status == "validating":
            raise BatchLoadingError(batch_id, b.status, alive=True)
        return b

    # -- loading ------------------------------------------------------------------------------

    def load(
        self,
        batch: Batch | LoadPlan,
        *,
        replace: bool = False,
        force: bool = False,
        places: Mapping[int, str] | None = None,
    ) -> None:
        plan = batch if isinstance(batch, LoadPlan) else plan_load(batch, places)
        with self._lock:
            old = self._batches.get(plan.batch_id)
            if old is not None and old.status != "validating":  # a load never validated is replaced
                if not replace:
                    raise BatchExistsError(plan.batch_id)
                busy = old.counts[("object", "creating")] + old.counts[("link", "creating")]
                if busy and old.status == "processing" and not force:
                    raise in_flight_error(plan.batch_id, busy)
            gc_was_enabled = gc.isenabled()
            gc.disable()  # nothing built here is garbage: no collector passes over the growing graph
            try:
                self._batches[plan.batch_id] = build(plan)
            finally:
                if gc_was_enabled:
                    gc.enable()

    def validate(self, batch_id: str) -> list[ValidationIssue]:
        with self._lock:
            b = self._batches.get(batch_id)
            if b is None:
                raise UnknownBatchError(batch_id)
            errors = check(b)
            if b.status in ("validating", "loaded", "error"):  # never moves a batch under way
                b.errors = errors
                b.status = "error" if errors else "loaded"
            return errors

    def delete(self, batch_id: str) -> bool:
        with self._lock:
            return self._batches.pop(batch_id, None) is not None

    # -- processing ---------------------------------------------------------------------------

    def start(self, batch_id: str) -> Started:
        with self._lock:
            b = self._get(batch_id)
            if b.status == "loaded":
                b.status = "processing"
            return Started(b.status, b.generation)

    def _current(self, batch_id: str, generation: str | None) -> BatchGraph:
        b = self._get(batch_id)
        if generation is not None and b.generation != generation:
            raise BatchReplacedError(batch_id)
        return b

    def claim(
        self,
        batch_id: str,
        *,
        worker: str,
        limit: int,
        lease_seconds: float,
        generation: str | None = None,
    ) -> list[Claim]:
        with self._lock:
            b = self._current(batch_id, generation)
            out: list[Claim] = []
            if b.status != "processing":
                return out
            until = time.time() + lease_seconds
            nodes, links = b.nodes, b.link_data
            while b.ready_objects and len(out) < limit:
                oid = b.ready_objects.popleft()
                node = nodes[oid]
                if node["status"] != "ready":
                    continue
                b.set_object(oid, "creating")
                node["attempt"] += 1
                node.update(claimedBy=worker, leaseUntil=until)
                out.append(self._object_claim(b, batch_id, oid, node))
            while b.ready_links and len(out) < limit:
                lid = b.ready_links.popleft()
                edge = links[lid]
                if edge["status"] != "ready":
                    continue
                b.set_link(lid, "creating")
                edge["attempt"] += 1
                edge.update(claimedBy=worker, leaseUntil=until)
                out.append(self._link_claim(b, batch_id, lid, edge))
            return out

    def _object_claim(self, b: BatchGraph, batch_id: str, oid: str, node: dict[str, Any]) -> Claim:
        if node["existing"]:
            return Claim("object", oid, node["attempt"], None, node["identifierIds"])
        nodes = b.nodes
        parents: list[ParentRef] = [
            {"linkId": k, "linkTag": d["linkTag"], "objectId": p, "identifierIds": nodes[p]["identifierIds"]}
            for p, keyed in b.graph._succ[oid].items()
            for k, d in keyed.items()
            if d["dependent"]
        ]
        msg = messages.create_object(batch_id, oid, node["objectType"], node["fields"], parents)
        return Claim("object", oid, node["attempt"], msg)

    def _link_claim(self, b: BatchGraph, batch_id: str, lid: str, edge: dict[str, Any]) -> Claim:
        child, parent = b.link_ends[lid]
        msg = messages.create_link(
            batch_id,
            lid,
            edge["linkTag"],
            messages.link_end(child, b.nodes[child]["identifierIds"]),
            messages.link_end(parent, b.nodes[parent]["identifierIds"]),
        )
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
            for lid, edge in b.link_data.items():
                if edge["status"] == "creating" and (edge.get("leaseUntil") or now + 1) < now:
                    b.set_link(lid, "ready")
                    n += 1
            return n

    def renew(self, batch_id: str, *, worker: str, lease_seconds: float) -> int:
        with self._lock:
            b = self._get(batch_id)
            until = time.time() + lease_seconds
            n = 0
            items = [*b.nodes.values(), *b.link_data.values()]
            for data in items:
                if (
                    data["status"] == "creating"
                    and data.get("claimedBy") == worker
                    and data.get("leaseUntil")
                ):
                    data["leaseUntil"] = until
                    n += 1
            return n

    def release(self, batch_id: str, *, worker: str) -> int:
        with self._lock:
            b = self._get(batch_id)
            n = 0
            for oid, node in b.graph.nodes(data=True):
                if (
                    node["status"] == "creating"
                    and node.get("claimedBy") == worker
                    and node.get("leaseUntil")
                ):
                    b.set_object(oid, "ready")
                    node["leaseUntil"] = None
                    n += 1
            for lid, edge in b.link_data.items():
                if (
                    edge["status"] == "creating"
                    and edge.get("claimedBy") == worker
                    and edge.get("leaseUntil")
                ):
                    b.set_link(lid, "ready")
                    edge["leaseUntil"] = None
                    n += 1
            return n

    def lease_holders(self, batch_id: str) -> list[str]:
        with self._lock:
            b = self._get(batch_id)
            if not b.counts[("object", "creating")] + b.counts[("link", "creating")]:
                return []  # as reclaim_expired: a run's start need not walk the whole batch
            items = itertools.chain((node for _, node in b.graph.nodes(data=True)), b.link_data.values())
            return sorted(
                {d["claimedBy"] for d in items if d["status"] == "creating" and d.get("leaseUntil")}
            )

    def accept(
        self, batch_id: str, items: Sequence[tuple[ItemKind, str]], *, worker: str | None = None
    ) -> None:
        with self._lock:
            b = self._get(batch_id)
            for kind, item_id in items:
                data = b.nodes[item_id] if kind == "object" else b.link(item_id)
                if _before(data, worker) == "creating":
                    data["leaseUntil"] = None

    def complete_objects(
        self, batch_id: str, items: Sequence[tuple[str, Identifiers]], *, worker: str | None = None
    ) -> list[Outcome]:
        with self._lock:
            b = self._get(batch_id)
            out = []
            # the adjacency dicts directly (no networkx views): the hot loop of a run
            g, nodes = b.graph, b.nodes
            for oid, ids in items:
                node = nodes.get(oid)
                before = _before(node, worker)
                out.append(messages.settled("object", oid, before, "complete"))
                if node is None or before != "creating":
                    continue
                b.set_object(oid, "complete")
                node["identifierIds"] = dict(ids)
                node["leaseUntil"] = None
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

    def complete_links(
        self, batch_id: str, link_ids: Sequence[str], *, worker: str | None = None
    ) -> list[Outcome]:
        with self._lock:
            b = self._get(batch_id)
            out = []
            for lid in link_ids:
                edge = b.link_data.get(lid)
                before = _before(edge, worker)
                out.append(messages.settled("link", lid, before, "complete"))
                if edge is None or before != "creating":
                    continue
                b.set_link(lid, "complete")
                edge["leaseUntil"] = None
            return out

    def fail(self, batch_id: str, kind: ItemKind, item_id: str, reason: str) -> Outcome:
        return self.fail_many(batch_id, [(kind, item_id, reason, True)])[0]

    def fail_many(
        self, batch_id: str, items: Sequence[Failure], *, worker: str | None = None
    ) -> list[Outcome]:
        with self._lock:
            b = self._get(batch_id)
            return [
                self._fail(b, kind, item_id, reason, permanent, worker)
                for kind, item_id, reason, permanent in items
            ]

    def _fail(
        self, b: BatchGraph, kind: ItemKind, item_id: str, reason: str, permanent: bool, worker: str | None
    ) -> Outcome:
        g = b.graph
        data = b.link_data.get(item_id) if kind == "link" else g._node.get(item_id)
        before = _before(data, worker)
        if data is None or before != "creating":
            return messages.settled(kind, item_id, before, "failed")
        data.update(reason=reason, leaseUntil=None)
        if not permanent and data["attempt"] < REPORTED_ATTEMPTS:  # sent out again, same key
            (b.set_link if kind == "link" else b.set_object)(item_id, "ready")
            return messages.settled(kind, item_id, before, "ready")
        if kind == "link":
            b.set_link(item_id, "failed")
            return messages.settled(kind, item_id, before, "failed")
        b.set_object(item_id, "failed")
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
        return messages.settled(kind, item_id, before, "failed")

    def missing(self, batch_id: str, items: Sequence[tuple[ItemKind, str]]) -> list[tuple[ItemKind, str]]:
        with self._lock:
            b = self._get(batch_id)
            return [(k, i) for k, i in items if i not in (b.graph if k == "object" else b.link_data)]

    def progress(self, batch_id: str) -> Progress:
        with self._lock:
            c = self._get(batch_id).counts
            return Progress(
                ready=c[("object", "ready")] + c[("link", "ready")],
                creating=c[("object", "creating")] + c[("link", "creating")],
                waiting=c[("object", "waiting")] + c[("link", "waiting")],
            )

    def finish(self, batch_id: str, generation: str | None = None) -> Finish | None:
        with self._lock:
            b = self._current(batch_id, generation)
            if b.status != "processing" or self.progress(batch_id).unfinished:
                return None
            bad = sum(n for (_, s), n in b.counts.items() if s in ("failed", "blocked"))
            b.status = "failed" if bad else "complete"
            b.batch_complete = "owed"
            b.finishes += 1
            return Finish(b.status)

    def owed(self, batch_id: str) -> BatchComplete | None:
        with self._lock:
            b = self._get(batch_id)
            if b.batch_complete != "owed":
                return None
            return messages.batch_complete(
                batch_id, b.status, *self.status(batch_id).counts(), finish=b.finishes
            )

    def delivered(self, batch_id: str) -> bool:
        with self._lock:
            b = self._get(batch_id)
            if b.batch_complete != "owed":
                return False
            b.batch_complete = "delivered"
            return True

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
                b.batch_complete = None
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
            out = BatchStatus(
                batch_id,
                b.status,
                objects,
                links,
                list(b.errors),
                failures=failures,
                batchComplete=b.batch_complete,
                finishes=b.finishes,
            )
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

    @contextmanager
    def reader(self, batch_id: str) -> Iterator[GraphReader]:
        """Reads for ``resolver.views``, under the lock: the caller sees one consistent state."""
        with self._lock:
            yield MemoryReader(self._get(batch_id))


def _before(data: dict[str, Any] | None, worker: str | None) -> str | None:
    """An item's status as a guarded transition sees it: a creating item claimed by another
    worker than the one writing (a run's own answers name their worker) is not its to move."""
    if data is None:
        return None
    status: str = data["status"]
    if status == "creating" and worker is not None and data.get("claimedBy") != worker:
        return "creating-elsewhere"
    return status


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
