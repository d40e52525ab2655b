"""The driver loop, shaped like ``graphlib.TopologicalSorter``: ``prepare``, ``get_ready``,
``done``, ``is_active``, with ``resolve`` on top to run a batch to the end.

The readiness bookkeeping lives in the store (an unmet-parents counter per object), so the engine
holds only what is in flight, and any number of engines in any number of processes can share one
batch: a claim is a guarded write in the store, never a decision made here.
"""

from __future__ import annotations

import gc
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from .adapters.base import Accepted, Adapter, Created, Failed, Result
from .errors import BatchStateError
from .models import BatchComplete, Claim, Identifiers, Message, Outcome
from .store.base import Finish, GraphStore, ItemKind, Progress

__all__ = ["Engine", "RetryPolicy", "RunResult", "resolve"]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, for failures the adapter calls transient."""

    attempts: int = 5
    initial: float = 1.0
    maximum: float = 60.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.maximum, self.initial * 2 ** (attempt - 1)))


@dataclass
class RunResult:
    batch_id: str
    status: str  # the batch status at the end
    dispatched: int = 0
    completed: int = 0
    failed: int = 0
    awaiting: int = 0  # items left awaiting an external completion
    seconds: float = 0.0


@dataclass
class _Done:
    claim: Claim
    result: Result


@dataclass
class Engine:
    """One worker's view of one batch."""

    store: GraphStore
    batch_id: str
    worker: str = field(default_factory=worker_id)
    chunk: int = 1000
    lease_seconds: float = 60.0

    def prepare(self) -> str:
        """Start processing; BatchStateError for a batch that failed validation."""
        status = self.store.start(self.batch_id)
        if status == "error":
            raise BatchStateError(
                f"batch {self.batch_id!r} has validation errors and is never dispatched "
                f"(see: resolver status {self.batch_id})"
            )
        return status

    def get_ready(self, limit: int | None = None) -> list[Claim]:
        return self.store.claim(
            self.batch_id,
            worker=self.worker,
            limit=limit or self.chunk,
            lease_seconds=self.lease_seconds,
        )

    def done(self, results: Iterable[_Done]) -> list[Outcome]:
        """Record what services answered, in as few transactions as the answers allow."""
        return [outcome for write in self.writes(results) for outcome in write()]

    def writes(self, results: Iterable[_Done]) -> list[Callable[[], list[Outcome]]]:
        """``done``'s work as independent writes: the objects' (with every failure and
        acceptance) and the links'. A completing object touches only waiting links and objects,
        a completing link only itself, so the two can run side by side without a deadlock."""
        objects: list[tuple[str, Identifiers]] = []
        links: list[str] = []
        accepted: list[tuple[ItemKind, str]] = []
        failed: list[tuple[ItemKind, str, str]] = []
        for d in results:
            r = d.result
            if isinstance(r, Created):
                if d.claim.kind == "object":
                    objects.append((d.claim.item_id, r.identifierIds or {}))
                else:
                    links.append(d.claim.item_id)
            elif isinstance(r, Accepted):
                accepted.append((d.claim.kind, d.claim.item_id))
            else:
                failed.append((d.claim.kind, d.claim.item_id, r.reason))

        def record_objects() -> list[Outcome]:
            outcomes = [self.store.fail(self.batch_id, kind, item, reason) for kind, item, reason in failed]
            if accepted:
                self.store.accept(self.batch_id, accepted)
            for i in range(0, len(objects), self.chunk):
                outcomes += self.store.complete_objects(self.batch_id, objects[i : i + self.chunk])
            return outcomes

        def record_links() -> list[Outcome]:
            outcomes: list[Outcome] = []
            for i in range(0, len(links), self.chunk):
                outcomes += self.store.complete_links(self.batch_id, links[i : i + self.chunk])
            return outcomes

        return [
            write
            for write, todo in ((record_objects, objects or failed or accepted), (record_links, links))
            if todo
        ]

    def progress(self) -> Progress:
        return self.store.progress(self.batch_id)

    def is_active(self) -> bool:
        return self.progress().unfinished > 0

    def finish(self) -> Finish | None:
        return self.store.finish(self.batch_id)


def resolve(
    store: GraphStore,
    batch_id: str,
    adapter: Adapter,
    *,
    workers: int = 10,
    once: bool = False,
    retry: RetryPolicy | None = None,
    lease_seconds: float = 60.0,
    chunk: int = 1000,
    poll: float = 0.5,
    on_message: Callable[[Message], None] | None = None,
    on_progress: Callable[[Progress, RunResult], None] | None = None,
) -> RunResult:
    """Run the batch until it is finished (or, with ``once``, until nothing is ready here)."""
    engine = Engine(store, batch_id, chunk=chunk, lease_seconds=lease_seconds)
    retry = retry or RetryPolicy()
    started = time.monotonic()
    result = RunResult(batch_id, engine.prepare())
    if result.status in ("complete", "failed"):
        return result
    pool = None if adapter.inline else ThreadPoolExecutor(max_workers=max(1, workers))
    # On a store with cores of its own, the answers of one round are written while the next
    # round is claimed: three transactions at once (the claim, the objects', the links').
    recorder = ThreadPoolExecutor(2, thread_name_prefix="resolver-record") if store.parallel_writes else None
    recording: list[Future[list[Outcome]]] = []
    in_flight: dict[Future[Result], Claim] = {}
    retry_at: list[tuple[float, Claim, int]] = []  # due time, claim, attempt number
    tries: dict[tuple[ItemKind, str], int] = {}
    finished: list[_Done] = []
    room = max(1, workers) * 4 if pool else chunk
    last_reclaim = 0.0
    last_renew = time.monotonic()
    last_shown = 0.0

    def dispatch(claim: Claim, attempt: int) -> None:
        assert claim.message is not None
        if on_message:
            on_message(claim.message)
        result.dispatched += attempt == 1
        if pool is None:
            finished.append(_Done(claim, _safe_send(adapter, claim)))
        else:
            in_flight[pool.submit(_safe_send, adapter, claim)] = claim

    # What is loaded lives as long as the run: kept out of the cyclic collector's sight, the full
    # collections that the run's own allocations trigger stop walking the whole batch again
    # (a third of a 100k-object memory-store run otherwise). Process-wide, and only a speed hint.
    gc.freeze()
    try:
        while True:
            now = time.monotonic()
            if now - last_reclaim > max(1.0, lease_seconds / 4):
                store.reclaim_expired(batch_id, now=time.time())
                last_reclaim = now
            due = [r for r in retry_at if r[0] <= now]
            retry_at = [r for r in retry_at if r[0] > now]
            for _, claim, attempt in due:
                dispatch(claim, attempt)
            claims = engine.get_ready(min(chunk, max(1, room - len(in_flight))))
            for claim in claims:
                if claim.message is None:  # an existing object: nothing to create
                    finished.append(_Done(claim, Created(claim.identifierIds)))
                else:
                    dispatch(claim, 1)
            if in_flight:
                done, _ = wait(list(in_flight), timeout=0 if claims else poll, return_when=FIRST_COMPLETED)
                for fut in done:
                    finished.append(_Done(in_flight.pop(fut), fut.result()))
            record, finished = finished, []
            settled: list[_Done] = []
            for d in record:
                key = (d.claim.kind, d.claim.item_id)
                if isinstance(d.result, Failed) and not d.result.permanent:
                    n = tries.get(key, 1)
                    if n < retry.attempts:
                        tries[key] = n + 1
                        retry_at.append((time.monotonic() + retry.delay(n), d.claim, n + 1))
                        continue
                tries.pop(key, None)
                settled.append(d)
                result.completed += isinstance(d.result, Created)
                result.failed += isinstance(d.result, Failed)
                result.awaiting += isinstance(d.result, Accepted)
            # the previous round's writes, before this round's: what they release is claimable
            # only from the next round on, which must then come even if this one found nothing
            released = bool(recording)
            for pending in recording:
                pending.result()
            recording = []
            for write in engine.writes(settled):
                if recorder is None:
                    write()
                else:
                    recording.append(recorder.submit(write))
            if time.monotonic() - last_renew > lease_seconds / 3 and (in_flight or retry_at):
                store.renew(batch_id, worker=engine.worker, lease_seconds=lease_seconds)
                last_renew = time.monotonic()
            if claims or in_flight or record or released or recording:
                if on_progress and time.monotonic() - last_shown > 0.5:
                    # counting by status costs the waiting items: shown twice a second at most
                    on_progress(engine.progress(), result)
                    last_shown = time.monotonic()
                continue
            if retry_at:  # only backoffs pending: sleep until the next one, not spin on claims
                time.sleep(min(poll, max(0.0, min(r[0] for r in retry_at) - time.monotonic())))
                continue
            progress = engine.progress()
            if on_progress:
                on_progress(progress, result)
            if progress.unfinished == 0:
                fin = engine.finish()
                if fin is not None:
                    message: BatchComplete = {
                        "kind": "batch-complete",
                        "batchId": batch_id,
                        "status": fin.status,
                    }
                    if on_message:
                        on_message(message)
                result.status = fin.status if fin else store.batch_status(batch_id)
                break
            if once:
                result.status = store.batch_status(batch_id)
                result.awaiting = progress.creating
                break
            time.sleep(poll)  # other workers or external services hold the rest
    finally:
        gc.unfreeze()
        if recorder is not None:
            recorder.shutdown(wait=True)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    result.seconds = time.monotonic() - started
    return result


def _safe_send(adapter: Adapter, claim: Claim) -> Result:
    """An adapter that raises has failed this item, transiently: it is a bug or an outage, not
    an answer, and the loop must go on for the other items."""
    assert claim.message is not None
    try:
        return adapter.send(claim.message)
    except Exception as exc:
        return Failed(f"{type(exc).__name__}: {exc}", permanent=False)
