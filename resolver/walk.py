"""The walk: a run that holds a whole batch and writes only final states.

Per item, the loop (``resolver.engine``) writes a claim, an answer, and for an object the unmet
count of each child and its readiness: four guarded writes, so that any number of workers can
share a batch. When the adapter answers at once in the run's process and every answer is final
(``adapters.base.FinalAnswers``: ``simulate``), and the store can lease a whole batch
(``store.walks.WalkStore``: Neo4j), a run instead::

    begin     lease the batch to this run (no claim of anyone else finds anything meanwhile)
    read      its graph, in pages, into arrays: positions, handles, states, links
    walk      Kahn's algorithm in memory, wave by wave: a wave's items are read (their
              messages), sent, and their final states written in chunks, the next chunk read
              while one is written; the next wave once all of a wave is written, so a child's
              create carries its parents' stored identifiers
    end       give the batch back; what is still open gets its readiness from its parents'
              statuses (the walk never writes unmet counts)

A crash leaves the lease, taken back as the loop's leases are (``Engine.take_back`` for a gone
worker of this machine, ``reclaim_expired`` once it runs out); the items of the chunk in flight
go out again with the same keys. A transient failure is written back ready with its reason and
left to the loop that follows, with its retries.
"""

from __future__ import annotations

import json
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from .adapters.base import Adapter, Created, Failed, Result, safe_send
from .models import Claim, ItemKind, Message
from .store.walks import BAD, COMPLETE, OPEN, Topology, WalkRow, WalkStore

__all__ = ["CHUNK", "Walk", "WalkEnd"]

#: items read, sent and written together: fewer, larger transactions than the loop's rounds
#: (the walk holds every item, so a chunk waits for nobody)
CHUNK = 5000
# an item handed to the loop after a transient failure, and a link queued in the next wave
HELD, QUEUED = 3, 4
# the state in memory of what a chunk's answers leave
_STATES = {"complete": COMPLETE, "failed": BAD, "ready": HELD}

WalkEnd = Literal["refused", "done", "stopped", "lost"]


@dataclass
class Counts:
    dispatched: int = 0
    completed: int = 0
    failed: int = 0
    #: items given back to the loop after a transient failure: (kind, id)
    handed_back: list[tuple[ItemKind, str]] = field(default_factory=list)


def _csr(n: int, keys: array[int], values: Sequence[int]) -> tuple[array[int], array[int]]:
    """values grouped by key (0..n-1): starts (n+1) and the values, as two flat arrays."""
    starts = array("i", bytes(4 * (n + 1)))
    for k in keys:
        starts[k + 1] += 1
    for i in range(n):
        starts[i + 1] += starts[i]
    fill = array("i", starts[:n])
    out = array("i", bytes(4 * len(keys)))
    for k, v in zip(keys, values, strict=True):
        out[fill[k]] = v
        fill[k] += 1
    return starts, out


class Graph:
    """A topology with what Kahn's algorithm needs: unmet counts, children by parent, a child's
    links with a create of their own, an object's independent links."""

    def __init__(self, top: Topology) -> None:
        self.top = top
        n = len(top.state)
        dep, ind = top.dependent, top.independent
        self.unmet = array("i", bytes(4 * n))
        for c, p in zip(dep.child, dep.parent, strict=True):
            if top.state[p] != COMPLETE:
                self.unmet[c] += 1
        self.kid_start, self.kids = _csr(n, dep.parent, dep.child)
        separate = array("i", (i for i, h in enumerate(dep.handle) if h >= 0))
        self.sep_start, self.seps = _csr(n, array("i", (dep.child[i] for i in separate)), separate)
        ends = array("i", ind.child)
        ends.extend(ind.parent)
        both = array("i", range(len(ind)))
        both.extend(range(len(ind)))
        self.ind_start, self.inds = _csr(n, ends, both)

    def first(self) -> tuple[array[int], array[int], array[int]]:
        """Ready now: open objects with no unmet parent, open links whose ends are complete."""
        state, dep, ind = self.top.state, self.top.dependent, self.top.independent
        objects = array("i", (o for o in range(len(state)) if state[o] == OPEN and not self.unmet[o]))
        seps = array(
            "i",
            (
                i
                for i in range(len(dep))
                if dep.handle[i] >= 0 and dep.state[i] == OPEN and state[dep.child[i]] == COMPLETE
            ),
        )
        inds = array(
            "i",
            (
                i
                for i in range(len(ind))
                if ind.state[i] == OPEN and state[ind.child[i]] == state[ind.parent[i]] == COMPLETE
            ),
        )
        for i in seps:
            dep.state[i] = QUEUED
        for i in inds:
            ind.state[i] = QUEUED
        return objects, seps, inds

    def release(self, done: Sequence[int]) -> tuple[array[int], array[int], array[int]]:
        """What the completed objects ``done`` made ready (the next wave)."""
        state, dep, ind = self.top.state, self.top.dependent, self.top.independent
        unmet, kids, seps, inds = self.unmet, self.kids, self.seps, self.inds
        objects, links, independent = array("i"), array("i"), array("i")
        for o in done:
            for k in kids[self.kid_start[o] : self.kid_start[o + 1]]:
                unmet[k] -= 1
                if not unmet[k] and state[k] == OPEN:
                    objects.append(k)
            for i in seps[self.sep_start[o] : self.sep_start[o + 1]]:
                if dep.state[i] == OPEN:
                    dep.state[i] = QUEUED
                    links.append(i)
            for i in inds[self.ind_start[o] : self.ind_start[o + 1]]:
                ends = state[ind.child[i]] == COMPLETE and state[ind.parent[i]] == COMPLETE
                if ends and ind.state[i] == OPEN:
                    ind.state[i] = QUEUED
                    independent.append(i)
        return objects, links, independent

    def block(self, root: int, root_id: str) -> tuple[list[WalkRow], list[WalkRow]]:
        """A failed object's dependents, breadth-first, and every open link of it and of them:
        blocked by ``root_id`` (as the loop's fail_object, block_dependents, block_links)."""
        state, top = self.top.state, self.top
        objects: list[WalkRow] = []
        links: list[WalkRow] = []
        frontier = [root]
        while frontier:
            below: list[int] = []
            for o in frontier:
                links += self._open_links(o, root_id)
                for k in self.kids[self.kid_start[o] : self.kid_start[o + 1]]:
                    if state[k] == OPEN:
                        state[k] = BAD
                        objects.append((top.handle[k], "blocked", root_id, self.unmet[k]))
                        below.append(k)
            frontier = below
        return objects, links

    def _open_links(self, o: int, root_id: str) -> list[WalkRow]:
        rows: list[WalkRow] = []
        for links, starts, index in (
            (self.top.dependent, self.sep_start, self.seps),
            (self.top.independent, self.ind_start, self.inds),
        ):
            for i in index[starts[o] : starts[o + 1]]:
                if links.state[i] == OPEN:
                    links.state[i] = BAD
                    rows.append((links.handle[i], "blocked", root_id, 0))
        return rows


class Walk:
    """One walk of one batch by one run (see the module docstring)."""

    def __init__(
        self,
        store: WalkStore,
        batch_id: str,
        *,
        worker: str,
        generation: str | None,
        adapter: Adapter,
        lease_seconds: float,
        on_message: Callable[[Message], None] | None = None,
        on_chunk: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.batch_id = batch_id
        self.worker = worker
        self.generation = generation
        self.adapter = adapter
        self.lease_seconds = lease_seconds
        self.on_message = on_message
        self.on_chunk = on_chunk
        self.stop = stop
        self.counts = Counts()
        self.writer = ThreadPoolExecutor(2, thread_name_prefix="resolver-walk")
        self.pending: list[Future[bool]] = []
        self.lost = False
        self.last_renew = time.monotonic()

    def run(self) -> WalkEnd:
        begun = self.store.walk_begin(
            self.batch_id, worker=self.worker, lease_seconds=self.lease_seconds, generation=self.generation
        )
        if not begun:
            return "refused"
        try:
            end = self._walk(Graph(self.store.walk_topology(self.batch_id)))
        finally:
            self.writer.shutdown(wait=True)
        if end != "lost":
            self.store.walk_end(self.batch_id, worker=self.worker)
        return end

    def _walk(self, graph: Graph) -> WalkEnd:
        objects, seps, inds = graph.first()
        empty = array("i")
        while objects or seps or inds:
            done = array("i")
            # a wave's chunks: its objects, then its links (those with a create of their own,
            # then the independent ones), CHUNK items each
            chunks = [(objects[i : i + CHUNK], empty, empty) for i in range(0, len(objects), CHUNK)]
            for i in range(0, len(seps) + len(inds), CHUNK):
                part = seps[i : i + CHUNK], inds[max(0, i - len(seps)) : max(0, i + CHUNK - len(seps))]
                chunks.append((empty, *part))
            for chunk in chunks:
                if not self._chunk(graph, *chunk, done):
                    return self._halt()
            if not self._drain():
                return "lost"
            objects, seps, inds = graph.release(done)
        return "done"

    def _halt(self) -> WalkEnd:
        return "stopped" if self._drain() and not self.lost else "lost"

    def _chunk(
        self, graph: Graph, objects: array[int], seps: array[int], inds: array[int], done: array[int]
    ) -> bool:
        """Read, send and (in the background) write one chunk: objects by position, links by
        index into the dependent and the independent links; False when the walk must end
        (stopped, or taken over)."""
        if self.lost or (self.stop is not None and self.stop.is_set()):
            return False
        if time.monotonic() - self.last_renew > self.lease_seconds / 3:
            self.store.renew(self.batch_id, worker=self.worker, lease_seconds=self.lease_seconds)
            self.last_renew = time.monotonic()
        top = graph.top
        links = [(top.dependent, i) for i in seps] + [(top.independent, i) for i in inds]
        claims = self.store.walk_claims(
            self.batch_id,
            worker=self.worker,
            generation=self.generation,
            objects=[top.handle[o] for o in objects],
            links=[lk.handle[i] for lk, i in links],
        )
        if claims is None:
            self.lost = True
            return False
        object_rows: list[WalkRow] = []
        link_rows: list[WalkRow] = []
        for o, claim in zip(objects, claims[: len(objects)], strict=True):
            status, value = _final(self._answer(claim))
            top.state[o] = _STATES[status]
            if status == "complete":
                done.append(o)
                value = None if claim.message is None else value  # an existing object keeps its own
            elif status == "ready":
                self.counts.handed_back.append(("object", claim.item_id))
            object_rows.append((top.handle[o], status, value, 0))
            if status == "failed":
                blocked, blocked_links = graph.block(o, claim.item_id)
                object_rows += blocked
                link_rows += blocked_links
        for (lk, i), claim in zip(links, claims[len(objects) :], strict=True):
            status, value = _final(self._answer(claim))
            lk.state[i] = _STATES[status]
            if status == "ready":
                self.counts.handed_back.append(("link", claim.item_id))
            link_rows.append((lk.handle[i], status, None if status == "complete" else value, 0))
        self._write(object_rows, link_rows)
        if self.on_chunk:
            self.on_chunk()
        return True

    def _answer(self, claim: Claim) -> Result:
        if claim.message is None:  # an existing object: nothing to create
            self.counts.completed += 1
            return Created(claim.identifierIds)
        if self.on_message:
            self.on_message(claim.message)
        self.counts.dispatched += 1
        result = safe_send(self.adapter, claim.message)
        self.counts.completed += isinstance(result, Created)
        self.counts.failed += isinstance(result, Failed) and result.permanent
        return result

    def _write(self, objects: list[WalkRow], links: list[WalkRow]) -> None:
        """One chunk's final states, written while the next chunk is read and sent, two writes
        at once at most (two writers under the walk's two locks: resolve of 100k objects 7.8 s,
        against 10.0 s for one writer under the batch node's lock)."""
        while len(self.pending) >= 2:
            self.lost |= not self.pending.pop(0).result()
        self.pending.append(
            self.writer.submit(
                self.store.walk_write,
                self.batch_id,
                worker=self.worker,
                generation=self.generation,
                objects=objects,
                links=links,
            )
        )

    def _drain(self) -> bool:
        """Every write done; False when one found the walk taken over."""
        while self.pending:
            self.lost |= not self.pending.pop(0).result()
        return not self.lost


def _final(result: Result) -> tuple[str, str | None]:
    """The status an answer leaves and its value: the identifierIds text of a creation, the
    reason of a failure, and of a transient one (``ready``: handed to the loop)."""
    if isinstance(result, Created):
        return "complete", json.dumps(result.identifierIds or {})
    if isinstance(result, Failed):
        return ("failed" if result.permanent else "ready"), result.reason
    # a FinalAnswers adapter that accepted after all
    return "ready", "the adapter accepted the create, though it answers at once; handed to the loop"
