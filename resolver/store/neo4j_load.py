"""A staged load into Neo4j: the batch id claimed with an owner token and a lease that a
heartbeat renews, the plan's chunks written two at a time, stage after stage, and everything taken
back when the load fails. ``Neo4jStore`` runs it; nothing here holds a session of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import neo4j
from neo4j import exceptions as neo4j_errors

from ..batchfile.plan import LoadPlan
from ..errors import BatchBusyError, BatchExistsError
from . import queries
from .base import in_flight_error

__all__ = ["LOAD_CHUNK", "StagedLoads", "load_alive"]

Write = Callable[[Callable[[neo4j.ManagedTransaction], Any]], Any]

LOAD_CHUNK = 10_000
LOAD_WRITERS = 2
# A load holds its batch id with a lease it renews while it works: a load that died is taken
# over once the lease ran out (at once when its process is gone from this host).
LOAD_LEASE = 30.0
LOAD_HEARTBEAT = 5.0
_BUSY = "is being loaded by another process; try again once it is done"


class StagedLoads:
    """The loads of one store, written through its ``write`` (a managed write transaction)."""

    def __init__(self, write: Write) -> None:
        self._write = write

    def _one(self, name: str, **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._write(lambda tx: queries.run(tx, name, **params))
        return rows

    def write(self, plan: LoadPlan, *, replace: bool, force: bool) -> str:
        """Claim the id, write every chunk, leave the batch 'validating'; returns the owner token
        that validation goes on holding the id with."""
        batch_id = plan.batch_id
        owner = self._claim_id(
            batch_id,
            replace=replace,
            force=force,
            objectCount=plan.object_count,
            linkCount=plan.link_count,
        )
        # The chunks of one stage are written side by side: the server runs a transaction on one
        # core, and a second writer keeps the other busy (load took 8.6 s instead of 12.6 s at
        # 100k objects). The stages stay in order: links match the objects written before them.
        hold = self.hold(batch_id, owner)
        pool = ThreadPoolExecutor(LOAD_WRITERS, thread_name_prefix="resolver-load")
        writer = _Writer(pool, self._write, batch_id)
        try:
            for chunk in plan.link_tags():
                writer.add("load_link_tags", chunk)
            writer.stage_done()
            for chunk in plan.objects():
                # rows as lists: smaller on the wire and cheaper to pack than maps (see the .cypher files)
                writer.add(
                    "load_objects",
                    [
                        [
                            r["objectId"],
                            r["objectType"],
                            r["fields"],
                            r["identifierIds"],
                            r["existing"],
                            r["unmet"],
                            r["status"],
                            r["ord"],
                        ]
                        for r in chunk
                    ],
                )
            writer.stage_done()
            for chunk in plan.references():
                writer.add("load_references", chunk)
            writer.stage_done()
            named = plan.source_names_places  # else a link's place is its ord: not stored
            for links in plan.links():
                dependent, independent = [], []
                for r in links.resolved:
                    given = r["place"] if named else None
                    if r["dependent"]:
                        dependent.append(
                            [
                                r["childId"],
                                r["parentId"],
                                r["linkId"],
                                r["linkTag"],
                                r["separate"],
                                r["ord"],
                                given,
                            ]
                        )
                    else:
                        independent.append(
                            [r["childId"], r["parentId"], r["linkId"], r["linkTag"], r["ord"], given]
                        )
                writer.add("load_dependent", dependent)
                writer.add("load_independent", independent)
                writer.add("load_unresolved", links.unresolved)
            writer.stage_done()
            moved = self._one(
                "batch_set_status", batchId=batch_id, owner=owner, **{"from": ["loading"]}, to="validating"
            )
            if not moved:
                raise BatchBusyError(batch_id, "was taken over by another load while this one wrote it")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # nothing may land after the delete
            hold.close()
            self._delete_owned(batch_id, owner)
            raise
        finally:
            pool.shutdown(wait=True)
            hold.close()
        return owner

    def _claim_id(self, batch_id: str, *, replace: bool, force: bool, **counts: int) -> str:
        """Make this load the owner of the id: create the batch node, or take it over from a
        finished batch (``replace``) or from a load that died. Returns the owner token."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        fresh = {"gen": uuid.uuid4().hex, "owner": owner, "until": time.time() + LOAD_LEASE, **counts}
        found = self._one("batch_exists", batchId=batch_id)
        if not found:
            try:
                self._one("batch_create", batchId=batch_id, **fresh)
            except neo4j_errors.ConstraintError:  # another load created it a moment ago
                raise BatchBusyError(batch_id, _BUSY) from None
            return owner
        head = found[0]
        if head["status"] in ("loading", "validating"):
            if load_alive(head["owner"], head["ownerUntil"]):
                raise BatchBusyError(batch_id, _BUSY)
        elif not replace:
            raise BatchExistsError(batch_id)
        elif head["status"] == "processing" and head["inFlight"] and not force:
            raise in_flight_error(batch_id, head["inFlight"])
        if not self._one("batch_take", batchId=batch_id, oldGen=head["gen"], **fresh):
            raise BatchBusyError(batch_id, _BUSY)  # another load took it first
        self.delete_items(batch_id)
        return owner

    def hold(self, batch_id: str, owner: str) -> _Hold:
        """The hold renewed while this load (or its validation) works."""
        return _Hold(
            lambda: self._one(
                "batch_heartbeat", batchId=batch_id, owner=owner, until=time.time() + LOAD_LEASE
            )
        )

    def _delete_owned(self, batch_id: str, owner: str) -> None:
        """A failed load takes back what it wrote, while the id is still its own."""
        if self._one("batch_heartbeat", batchId=batch_id, owner=owner, until=time.time() + LOAD_LEASE)[0][
            "held"
        ]:
            self.delete_items(batch_id)
            self._one("delete_batch_node", batchId=batch_id, owner=owner)

    def delete_items(self, batch_id: str) -> None:
        """Everything of a batch but its node, a chunk a transaction."""
        while self._one("delete_batch_chunk", batchId=batch_id, limit=LOAD_CHUNK)[0]["deleted"]:
            pass


class _Hold:
    """Renews a load's hold on its batch id every LOAD_HEARTBEAT seconds until closed."""

    def __init__(self, renew: Callable[[], object]) -> None:
        self._stop = threading.Event()
        self._renew = renew
        self._thread = threading.Thread(target=self._run, name="resolver-load-hold", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(LOAD_HEARTBEAT):
            try:
                self._renew()
            except Exception:  # a missed beat only shortens the hold; the load itself reports errors
                logging.getLogger(__name__).debug("load heartbeat failed", exc_info=True)

    def close(self) -> None:
        self._stop.set()


def load_alive(owner: str | None, until: float | None) -> bool:
    """Whether the load that owns a batch may still be at work: its lease runs, and, when it
    runs on this host, its process is there."""
    if not owner or until is None or until < time.time():
        return False
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
    return True


def _loader(name: str, batch_id: str, rows: Sequence[Any]) -> Callable[[neo4j.ManagedTransaction], Any]:
    return lambda tx: queries.run(tx, name, batchId=batch_id, rows=rows)


class _Writer:
    """Rows of each query gathered into LOAD_CHUNK-row transactions, written by the pool with
    at most LOAD_WRITERS in flight, so the reader is never far ahead of the server."""

    def __init__(self, pool: ThreadPoolExecutor, write: Callable[[Any], Any], batch_id: str) -> None:
        self._pool, self._write, self._batch_id = pool, write, batch_id
        self._rows: dict[str, list[Any]] = {}
        self._pending: deque[Future[Any]] = deque()

    def add(self, name: str, rows: Sequence[Any]) -> None:
        buffer = self._rows.setdefault(name, [])
        buffer.extend(rows)
        while len(buffer) >= LOAD_CHUNK:
            self._submit(name, buffer[:LOAD_CHUNK])
            del buffer[:LOAD_CHUNK]

    def _submit(self, name: str, rows: list[Any]) -> None:
        self._pending.append(self._pool.submit(self._write, _loader(name, self._batch_id, rows)))
        while len(self._pending) > LOAD_WRITERS:
            self._pending.popleft().result()

    def stage_done(self) -> None:
        """Everything gathered written, and every write finished: the next stage may rely on it."""
        for name, buffer in self._rows.items():
            if buffer:
                self._submit(name, buffer)
        self._rows = {}
        while self._pending:
            self._pending.popleft().result()
