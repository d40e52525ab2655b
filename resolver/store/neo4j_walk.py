"""The Neo4j store's side of a walk (``walks.WalkStore``): the lease on the batch node, the graph
read in pages, claims read by handle, final states written under one of the walk's two locks."""

from __future__ import annotations

import itertools
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import neo4j

from ..errors import BatchReplacedError, BatchStateError
from ..models import Claim
from . import queries
from .neo4j_claims import claims_of
from .walks import Links, Topology, WalkRow

__all__ = ["Neo4jWalks"]

T = TypeVar("T")
Work = Callable[[Callable[[neo4j.ManagedTransaction], T]], T]

#: rows a page of the graph holds: big enough that the pages cost little, small enough that
#: one page's lists stay a few MiB in the client
PAGE = 50_000


class Neo4jWalks:
    """Given the store's read and write (managed transactions, retried)."""

    def __init__(self, read: Work[Any], write: Work[Any]) -> None:
        self._read = read
        self._write = write
        self._slots = itertools.count()

    def begin(self, batch_id: str, worker: str, lease_seconds: float, generation: str | None) -> bool:
        rows = self._write(
            lambda tx: queries.run(
                tx,
                "walk_begin",
                batchId=batch_id,
                worker=worker,
                walkUntil=time.time() + lease_seconds,
                gen=generation,
            )
        )
        return bool(rows[0]["begun"])

    def topology(self, batch_id: str) -> Topology:
        handle = array("q")
        state = bytearray()
        for page in self._pages("walk_objects", batch_id):
            n = len(handle)
            top = max(page["ords"], default=-1) + 1
            if top > n:
                handle.extend([-1] * (top - n))
                state.extend(bytes(top - n))
            for o, h, s in zip(page["ords"], page["handles"], page["states"], strict=True):
                handle[o] = h
                state[o] = s
        dependent = self._links("walk_dependent", batch_id)
        return Topology(handle, state, dependent, self._links("walk_independent", batch_id))

    def _links(self, name: str, batch_id: str) -> Links:
        links = Links()
        for page in self._pages(name, batch_id):
            links.child.extend(page["children"])
            links.parent.extend(page["parents"])
            links.handle.extend(page["handles"])
            links.state.extend(page["states"])
        return links

    def _pages(self, name: str, batch_id: str) -> Iterator[dict[str, Any]]:
        """The query's pages in key order, each read in its own transaction (a page's seek
        starts after the last key of the one before)."""

        def page(after: str) -> dict[str, Any]:
            rows = self._read(lambda tx: queries.run(tx, name, batchId=batch_id, after=after, limit=PAGE))
            return rows[0]  # type: ignore[no-any-return]

        found = page("")
        while found["keys"]:
            yield found
            found = page(found["keys"][-1])

    def claims(
        self, batch_id: str, worker: str, generation: str | None, objects: Sequence[int], links: Sequence[int]
    ) -> list[Claim] | None:
        """None when the walk was taken over; BatchReplacedError when the batch was replaced."""

        def work(tx: neo4j.ManagedTransaction) -> dict[str, Any] | None:
            params = {"objects": list(objects), "links": list(links)}
            head = queries.run(tx, "walk_claims", batchId=batch_id, **params)[0]
            check = queries.run(tx, "walk_check", batchId=batch_id)
            return head if _holds(check, batch_id, worker, generation) else None

        head = self._read(work)
        if head is None:
            return None
        if len(head["objects"]) != len(objects) or len(head["links"]) != len(links):
            raise BatchStateError(f"batch {batch_id!r} lost items while a run walked it")
        return claims_of(batch_id, head)

    def write(
        self,
        batch_id: str,
        worker: str,
        generation: str | None,
        objects: Sequence[WalkRow],
        links: Sequence[WalkRow],
    ) -> bool:
        def work(tx: neo4j.ManagedTransaction) -> bool:
            hold = queries.run(tx, "walk_hold", batchId=batch_id, slot=slot)
            if not _holds(hold, batch_id, worker, generation):
                return False
            if objects:
                queries.run(tx, "walk_write_objects", batchId=batch_id, rows=objects)
            if links:
                queries.run(tx, "walk_write_links", batchId=batch_id, rows=links)
            return True

        slot = next(self._slots) % 2  # two writes at once take different locks

        return bool(self._write(work))

    def release(self, batch_id: str, worker: str | None, now: float | None = None) -> bool:
        """The walk given back by ``worker``, or (``worker`` None) taken over once its lease ran
        out by ``now``; whether there was one to give back."""
        at = time.time() if now is None else now
        rows = self._write(
            lambda tx: queries.run(tx, "walk_release", batchId=batch_id, worker=worker, now=at)
        )
        return bool(rows and rows[0]["released"])


def _holds(head: list[dict[str, Any]], batch_id: str, worker: str, generation: str | None) -> bool:
    """Whether ``worker`` still walks the batch (walk_hold, walk_check): BatchReplacedError when
    the batch is another generation now."""
    if not head or (generation is not None and head[0]["gen"] != generation):
        raise BatchReplacedError(batch_id)
    return bool(head[0]["walker"] == worker)
