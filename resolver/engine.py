"""The engine: one worker's view of one batch in ``graphlib.TopologicalSorter``'s phases
(``prepare``, ``get_ready``, ``done``, ``is_active``), and ``resolve``, the driver loop that runs a
batch to its end with an adapter.

The readiness bookkeeping lives in the store (an unmet-parents counter per object), so the engine
holds only what is in flight, and any number of engines in any number of processes can share one
batch: a claim is a guarded write in the store, never a decision made here.

A run starts by giving back the claims of workers of this machine whose process is gone
(``take_back``). With an adapter whose answers are all final and a store that can lease a whole
batch, it then walks the batch (``resolver.walk``: final states only, no per-item claims), and
the loop takes what the walk left (transient failures) or could not begin. Then it goes round.
One round of the loop, each a method of ``_Loop``::

    reclaim   put items whose lease ran out back to ready (another worker died)
    claim     take ready items (get_ready); existing objects complete without dispatch
    dispatch  send each to the adapter, inline or on a thread pool
    collect   gather the answers that arrived
    settle    transient failures wait for a retry; the rest are final
    record    write the final answers (done), overlapping the next rounds on a server store
              (WRITE_ROUNDS at once); renew the leases still in flight, with no write pending
    finish    when nothing is left: the batch's final transition, then deliver its
              batch-complete (owed from that transition until the adapter took it)

A run names the generation of the batch it started and its own worker in every write, so a run
of a replaced batch stops (BatchReplacedError) and changes nothing of the new one. ``stop`` (set
by SIGINT/SIGTERM) ends a run after its pending writes, giving its leased claims back; ``wake``
(set when a report arrives from outside) cuts an idle wait short.
"""

from __future__ import annotations

import gc
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field

from . import reporting
from .adapters.base import (
    Accepted,
    Adapter,
    AnswerSource,
    BulkSender,
    Created,
    Failed,
    FinalAnswers,
    Result,
    safe_send,
)
from .errors import BatchStateError
from .liveness import is_gone, worker_id
from .models import Claim, Identifiers, ItemKind, Message, Outcome
from .store.base import Failure, Finish, GraphStore, Progress
from .store.walks import WalkStore
from .walk import Walk

__all__ = ["Answer", "Engine", "RetryPolicy", "RunResult", "resolve"]


#: how long an acceptance waits before it is written (``_Loop.accepting``)
ACCEPT_DELAY = 0.25
# Rounds of completions written at once. With one, a run left a quarter of two cores idle while
# each round's writes waited for the last (resolve of 100k objects on Neo4j: 19.5 s against
# 23.0 s, means of five alternated pairs, every pair won by two rounds); the store's
# completions lock what they share in one order, as those of several workers do.
WRITE_ROUNDS = 2


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
    stopped: bool = False  # ended by ``stop`` (its leased claims given back)
    undelivered: str | None = None  # why the batch-complete message is still owed, if it is
    taken_back: int = 0  # claims of gone workers of this machine given back at the start


@dataclass(frozen=True)
class Answer:
    """What became of one claimed item: the service's result, or ``Created`` for an existing
    object, which completes without dispatch."""

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
    generation: str | None = None  # the batch's, from ``prepare``

    def prepare(self) -> str:
        """Start processing; BatchStateError for a batch that failed validation."""
        started = self.store.start(self.batch_id)
        if started.status == "error":
            raise BatchStateError(
                f"batch {self.batch_id!r} has validation errors and is never dispatched "
                f"(see: resolver status {self.batch_id})"
            )
        self.generation = started.generation
        return started.status

    def take_back(self) -> int:
        """Give back the leased claims of workers of this machine whose process is gone
        (``liveness``), so their items go out again now, not when the leases run out. How many
        came back."""
        gone = [w for w in self.store.lease_holders(self.batch_id) if is_gone(w)]
        return sum(self.store.release(self.batch_id, worker=w) for w in gone)

    def get_ready(self, limit: int | None = None) -> list[Claim]:
        """Claim up to ``limit`` ready items: each is this worker's until it answers or its
        lease runs out."""
        return self.store.claim(
            self.batch_id,
            worker=self.worker,
            limit=limit or self.chunk,
            lease_seconds=self.lease_seconds,
            generation=self.generation,
        )

    def done(self, answers: Iterable[Answer]) -> list[Outcome]:
        """Record final answers, in as few transactions as they allow."""
        return [outcome for write in self.writes(answers) for outcome in write()]

    def writes(self, answers: Iterable[Answer]) -> list[Callable[[], list[Outcome]]]:
        """``done``'s work as independent writes: the objects' (with every failure and
        acceptance) and the links'. A completing object touches only waiting links and objects,
        a completing link only itself, so the two can run side by side without a deadlock."""
        objects: list[tuple[str, Identifiers]] = []
        links: list[str] = []
        accepted: list[tuple[ItemKind, str]] = []
        failed: list[Failure] = []
        for a in answers:
            r = a.result
            if isinstance(r, Created):
                if a.claim.kind == "object":
                    objects.append((a.claim.item_id, r.identifierIds or {}))
                else:
                    links.append(a.claim.item_id)
            elif isinstance(r, Accepted):
                accepted.append((a.claim.kind, a.claim.item_id))
            else:
                failed.append((a.claim.kind, a.claim.item_id, r.reason, True))  # retries were ours
        store, batch_id, me = self.store, self.batch_id, self.worker

        def record_objects() -> list[Outcome]:
            outcomes = store.fail_many(batch_id, failed, worker=me) if failed else []
            if accepted:
                store.accept(batch_id, accepted, worker=me)
            for i in range(0, len(objects), self.chunk):
                outcomes += store.complete_objects(batch_id, objects[i : i + self.chunk], worker=me)
            return outcomes

        def record_links() -> list[Outcome]:
            outcomes: list[Outcome] = []
            for i in range(0, len(links), self.chunk):
                outcomes += store.complete_links(batch_id, links[i : i + self.chunk], worker=me)
            return outcomes

        return [
            write
            for write, todo in ((record_objects, objects or failed or accepted), (record_links, links))
            if todo
        ]

    def progress(self) -> Progress:
        return self.store.progress(self.batch_id)

    def is_active(self, progress: Progress | None = None) -> bool:
        """Whether anything of the batch is still waiting, ready or in flight."""
        return (progress or self.progress()).unfinished > 0

    def finish(self) -> Finish | None:
        """The batch's final transition, made by exactly one worker (None for the others)."""
        return self.store.finish(self.batch_id, self.generation)

    def deliver(
        self,
        adapter: Adapter,
        retry: RetryPolicy,
        on_message: Callable[[Message], None] | None = None,
        stop: threading.Event | None = None,
    ) -> str | None:
        """Hand the batch-complete message the batch owes to the adapter (transient failures
        retried with ``retry``), then mark it delivered. A crash between the two delivers it
        again, with the same key: never not at all. Returns why it is still owed, or None."""
        message = self.store.owed(self.batch_id)
        if message is None:
            return None
        for attempt in range(1, retry.attempts + 1):
            answer = safe_send(adapter, message)
            if not isinstance(answer, Failed):
                if on_message:
                    on_message(message)
                self.store.delivered(self.batch_id)
                return None
            if answer.permanent or attempt == retry.attempts:
                return answer.reason
            if stop is not None and stop.wait(retry.delay(attempt)):
                return "the run was stopped"
            if stop is None:
                time.sleep(retry.delay(attempt))
        return None


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
    stop: threading.Event | None = None,
    wake: threading.Event | None = None,
    walk: bool = True,
) -> RunResult:
    """Run the batch until it is finished (or, with ``once``, until nothing is ready here, or
    until ``stop`` is set), then deliver its batch-complete message. ``walk`` False keeps a run
    that could walk the batch (``resolver.walk``) to the loop's per-item claims."""
    engine = Engine(store, batch_id, chunk=chunk, lease_seconds=lease_seconds)
    loop = _Loop(
        engine,
        adapter,
        workers=workers,
        once=once,
        retry=retry or RetryPolicy(),
        poll=poll,
        on_message=on_message,
        on_progress=on_progress,
        stop=stop,
        wake=wake,
        walk=walk,
    )
    return loop.run()


class _Loop:
    """``resolve``'s state between rounds: what is in flight, waiting for a retry, being
    recorded. One method per step of a round (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        adapter: Adapter,
        *,
        workers: int,
        once: bool,
        retry: RetryPolicy,
        poll: float,
        on_message: Callable[[Message], None] | None,
        on_progress: Callable[[Progress, RunResult], None] | None,
        stop: threading.Event | None,
        wake: threading.Event | None,
        walk: bool = False,
    ) -> None:
        self.engine = engine
        self.walks = (
            walk
            and adapter.inline
            and isinstance(adapter, FinalAnswers)
            and adapter.final_answers
            and isinstance(engine.store, WalkStore)
        )
        self.stop = stop
        self.wake = wake or threading.Event()
        self.finished_here = False
        self.store = engine.store
        self.adapter = adapter
        self.once = once
        self.retry = retry
        self.poll = poll
        self.on_message = on_message
        self.on_progress = on_progress
        self.result = RunResult(engine.batch_id, "")
        # a bulk adapter takes each round's creates in one call, on this thread
        self.bulk = isinstance(adapter, BulkSender)
        self.pool = None if adapter.inline or self.bulk else ThreadPoolExecutor(max_workers=max(1, workers))
        # On a store with cores of its own, the answers of one round are written while the next
        # rounds are claimed and written: up to WRITE_ROUNDS rounds of completions at once.
        self.recorder = (
            ThreadPoolExecutor(2, thread_name_prefix="resolver-record")
            if self.store.parallel_writes
            else None
        )
        self.room = max(1, workers) * 4 if self.pool else engine.chunk
        self.in_flight: dict[Future[Result], Claim] = {}
        self.retry_at: list[tuple[float, Claim, int]] = []  # due time, claim, attempt number
        self.tries: dict[tuple[ItemKind, str], int] = {}
        self.answers: list[Answer] = []  # collected, not settled yet
        # the rounds of writes in flight, oldest first: their futures, and whether they complete
        # objects or links (and so may make more ready)
        self.recording: list[tuple[list[Future[list[Outcome]]], bool]] = []
        # what a broker's answer thread recorded for this batch (only that thread writes them)
        self.heard = {"completion": 0, "failure": 0}
        # held by that thread's writes and by the lease renewal, which lock the same items in
        # another order (see renew)
        self.answering = threading.Lock()
        # Whether a claim may find something: a claim that took less than it asked for took all
        # that was ready, and only completions (ours, once written, or others', seen through
        # wake, idle or the ready count) make more ready. Skipping the empty claims saves a
        # write transaction per round while a service that answers later holds the work.
        self.may_claim = True
        # Writes of acceptances (write_accepted), awaited at the end.
        self.trailing: list[Future[list[Outcome]]] = []
        # The last answers recorded include items a service took to report later: until their
        # reports come, the batch cannot be finished, so an idle round waits for them (a report
        # wakes it) without first counting the batch.
        self.handed_out = False
        # Acceptances wait ACCEPT_DELAY before they are written: a service that reports at once
        # has completed the item by then, and the write finds nothing to do instead of holding
        # the item's lock while the report waits for it (due time, answers).
        self.accepting: list[tuple[float, list[Answer]]] = []
        self.last_reclaim = 0.0
        self.last_renew = time.monotonic()
        self.last_shown = 0.0

    def run(self) -> RunResult:
        started = time.monotonic()
        self.result.status = self.engine.prepare()
        # the batch-complete this run delivers: one owed from before (a crash, a report from the
        # shell that finished the batch), or the one its own final transition owes
        deliver = self.result.status in ("complete", "failed")
        if isinstance(self.adapter, AnswerSource):
            self.adapter.listen(self.answered)
        if not deliver:
            self.result.taken_back = self.engine.take_back()
            # What is loaded lives as long as the run: kept out of the cyclic collector's sight,
            # the full collections that the run's own allocations trigger stop walking the whole
            # batch again (a third of a 100k-object memory-store run otherwise). A hint only.
            gc.freeze()
            try:
                if not self.walk():  # a walk that was stopped ends the run
                    while self.round():
                        pass
                self.write_accepted(everything=True)
                for pending in self.trailing:
                    pending.result()
            finally:
                gc.unfreeze()
                if self.recorder is not None:
                    self.recorder.shutdown(wait=True)
                if self.pool is not None:
                    # a stopped or fenced run does not wait for a slow service's answers
                    finished = self.result.status in ("complete", "failed") or self.once
                    self.pool.shutdown(wait=finished, cancel_futures=True)
        if (deliver or self.finished_here) and not self.result.stopped:
            self.result.undelivered = self.engine.deliver(
                self.adapter, self.retry, self.on_message, self.stop
            )
        self.result.completed += self.heard["completion"]
        self.result.failed += self.heard["failure"]
        self.result.seconds = time.monotonic() - started
        return self.result

    def walk(self) -> bool:
        """Walk the batch when the run can (``resolver.walk``); True when that ended the run
        (stopped), False when the loop goes on with what the walk left."""
        if not self.walks:
            return False
        store, engine = self.store, self.engine
        assert isinstance(store, WalkStore)
        walk = Walk(
            store,
            engine.batch_id,
            worker=engine.worker,
            generation=engine.generation,
            adapter=self.adapter,
            lease_seconds=engine.lease_seconds,
            on_message=self.on_message,
            on_chunk=self.show_progress,
            stop=self.stop,
        )
        end = walk.run()
        counts = walk.counts
        self.result.dispatched += counts.dispatched
        self.result.completed += counts.completed
        self.result.failed += counts.failed
        for key in counts.handed_back:
            self.tries[key] = 2  # the walk's was the first attempt: the loop's is the second
        if end == "stopped":
            self.result.stopped = True
            self.result.status = self.store.batch_status(engine.batch_id)
            return True
        return False

    def round(self) -> bool:
        """One round of the loop; False once the run is over."""
        if self.stop is not None and self.stop.is_set():
            self.halt()
            return False
        self.reclaim()
        self.send_round([(claim, attempt) for _, claim, attempt in self.due_retries()])
        claims = self.claim() if self.may_claim else []
        self.collect(wait=not claims)
        collected = bool(self.answers)
        released = self.record(self.settle())
        if claims or self.in_flight or collected or released or self.recording:
            self.show_progress()
            return True
        if self.retry_at:  # only backoffs pending: sleep until the next one, not spin on claims
            self.idle(min(self.poll, max(0.0, min(r[0] for r in self.retry_at) - time.monotonic())))
            return True
        return self.finish()

    def idle(self, seconds: float) -> None:
        """Wait for others; a report from outside (``wake``) cuts it short."""
        self.wake.wait(seconds)
        self.wake.clear()
        self.may_claim = True

    def answered(
        self, batch_id: str, kind: reporting.ReportKind, reports: list[reporting.Report]
    ) -> list[reporting.ItemResult]:
        """A broker adapter's answers, for this batch or another one of the store."""
        with self.answering:
            results = reporting.record(self.store, batch_id, reports, kind)
        if batch_id == self.engine.batch_id:
            # a transient failure puts its item back to ready: not a failed item
            self.heard[kind] += sum(r.outcome == "recorded" and r.status != "ready" for r in results)
            self.wake.set()
        return results

    def halt(self) -> None:
        """``stop``: record what is answered, then give the leased claims back, so the next run
        takes them at once (what a service accepted stays with it; answers still out are lost
        and their items dispatched again, with the same key)."""
        self.record(self.settle())
        self.write_accepted(everything=True)  # before the release: they stay with the service
        self.await_recording()
        for pending in self.trailing:
            pending.result()
        self.trailing = []
        batch_id = self.engine.batch_id
        self.store.release(batch_id, worker=self.engine.worker)
        self.result.stopped = True
        self.result.status = self.store.batch_status(batch_id)

    def reclaim(self) -> None:
        now = time.monotonic()
        if now - self.last_reclaim > max(1.0, self.engine.lease_seconds / 4):
            if self.store.reclaim_expired(self.engine.batch_id, now=time.time()):
                self.may_claim = True
            self.last_reclaim = now

    def due_retries(self) -> list[tuple[float, Claim, int]]:
        now = time.monotonic()
        due = [r for r in self.retry_at if r[0] <= now]
        self.retry_at = [r for r in self.retry_at if r[0] > now]
        return due

    def claim(self) -> list[Claim]:
        room = min(self.engine.chunk, max(1, self.room - len(self.in_flight)))
        claims = self.engine.get_ready(room)
        sendable: list[tuple[Claim, int]] = []
        self.may_claim = len(claims) >= room
        for claim in claims:
            if claim.message is None:  # an existing object: nothing to create
                self.answers.append(Answer(claim, Created(claim.identifierIds)))
            else:
                # 1, or 2 for an item a walk sent once and handed back (dispatched is counted once)
                sendable.append((claim, self.tries.get((claim.kind, claim.item_id), 1)))
        self.send_round(sendable)
        return claims

    def send_round(self, claims: Sequence[tuple[Claim, int]]) -> None:
        """Dispatch (claim, attempt) pairs: in one call to a bulk adapter, else one by one."""
        if self.bulk:
            if claims:
                self.dispatch_many(claims)
            return
        for claim, attempt in claims:
            self.dispatch(claim, attempt)

    def dispatch(self, claim: Claim, attempt: int) -> None:
        assert claim.message is not None
        self.result.dispatched += attempt == 1
        if self.pool is None:
            self.answers.append(Answer(claim, self.send(claim.message)))
        else:
            self.in_flight[self.pool.submit(self.send, claim.message)] = claim

    def send(self, message: Message) -> Result:
        """Logged as it goes out, not when queued: a run stopped or fenced with sends still
        queued logs none of them (a crash after the line and before the send only repeats it)."""
        if self.on_message:
            self.on_message(message)
        return safe_send(self.adapter, message)

    def dispatch_many(self, claims: Sequence[tuple[Claim, int]]) -> None:
        """A bulk adapter's share of a round: every create in one call (claim, attempt)."""
        messages = [claim.message for claim, _ in claims if claim.message is not None]
        assert len(messages) == len(claims)
        if self.on_message:
            for message in messages:
                self.on_message(message)
        self.result.dispatched += sum(attempt == 1 for _, attempt in claims)
        results = _safe_send_many(self.adapter, messages)
        self.answers += [Answer(claim, r) for (claim, _), r in zip(claims, results, strict=True)]

    def collect(self, *, wait: bool) -> None:
        """The answers that arrived; with ``wait`` (nothing was claimed), up to ``poll`` seconds
        for the first."""
        if not self.in_flight:
            return
        done, _ = futures_wait(
            list(self.in_flight), timeout=self.poll if wait else 0, return_when=FIRST_COMPLETED
        )
        for fut in done:
            self.answers.append(Answer(self.in_flight.pop(fut), fut.result()))

    def settle(self) -> list[Answer]:
        """The collected answers that are final; transient failures are scheduled to retry."""
        final: list[Answer] = []
        for a in self.answers:
            key = (a.claim.kind, a.claim.item_id)
            if isinstance(a.result, Failed) and not a.result.permanent:
                n = self.tries.get(key, 1)
                if n < self.retry.attempts:
                    self.tries[key] = n + 1
                    self.retry_at.append((time.monotonic() + self.retry.delay(n), a.claim, n + 1))
                    continue
            self.tries.pop(key, None)
            final.append(a)
            self.result.completed += isinstance(a.result, Created)
            self.result.failed += isinstance(a.result, Failed)
            self.result.awaiting += isinstance(a.result, Accepted)
        self.answers = []
        return final

    def record(self, final: list[Answer]) -> bool:
        """Write the final answers; True when earlier rounds' writes were awaited here. What a
        round's writes release is claimable once they committed, so up to WRITE_ROUNDS rounds
        are written at once (the oldest awaited first); a round with nothing new to write awaits
        them all, so that the loop ends only with everything written."""
        released = self.await_recording(keep=WRITE_ROUNDS - 1 if final else 0)
        for pending in [p for p in self.trailing if p.done()]:
            pending.result()  # a failed write fails the run, as an awaited one does
            self.trailing.remove(pending)
        self.renew()
        releasing = any(isinstance(a.result, Created) for a in final)
        accepted = [a for a in final if isinstance(a.result, Accepted)]
        if final:
            self.handed_out = bool(accepted)
        if self.recorder is None:
            for write in self.engine.writes(final):
                write()
            if releasing:
                self.may_claim = True
            return released
        if accepted:
            self.accepting.append((time.monotonic() + ACCEPT_DELAY, accepted))
            final = [a for a in final if not isinstance(a.result, Accepted)]
        self.write_accepted()
        writes = [self.recorder.submit(write) for write in self.engine.writes(final)]
        if writes:
            self.recording.append((writes, releasing))
        return released

    def await_recording(self, keep: int = 0) -> bool:
        """Wait for the oldest rounds of writes until ``keep`` are left; True if any was."""
        awaited = False
        while len(self.recording) > keep:
            writes, releasing = self.recording.pop(0)
            for pending in writes:
                pending.result()
            awaited = True
            if releasing:
                self.may_claim = True
        return awaited

    def write_accepted(self, *, everything: bool = False) -> None:
        """Write the acceptances that are due (``everything``: all of them) as trailing writes:
        they release nothing and change no count, so no claim waits for them, and they touch
        only items no other write of this run touches (their reports come from outside)."""
        now = time.monotonic()
        due = [a for at, answers in self.accepting if everything or at <= now for a in answers]
        if not due:
            return
        self.accepting = [(at, answers) for at, answers in self.accepting if not everything and at > now]
        assert self.recorder is not None
        for write in self.engine.writes(due):
            self.trailing.append(self.recorder.submit(write))

    def renew(self) -> None:
        """Extend the leases of what is in flight, never beside this run's own writes or a
        broker's answers: those lock the same items in another order, and the deadlock costs the
        loop the store's retry delay (a second)."""
        lease = self.engine.lease_seconds
        if time.monotonic() - self.last_renew > lease / 3 and (self.in_flight or self.retry_at):
            self.await_recording()
            for pending in self.trailing:
                pending.result()
            self.trailing = []
            with self.answering:
                self.store.renew(self.engine.batch_id, worker=self.engine.worker, lease_seconds=lease)
            self.last_renew = time.monotonic()

    def show_progress(self) -> None:
        # counting by status costs the waiting items: shown twice a second at most
        if self.on_progress and time.monotonic() - self.last_shown > 0.5:
            self.on_progress(self.engine.progress(), self.result)
            self.last_shown = time.monotonic()

    def finish(self) -> bool:
        """Nothing here to do: finish the batch if nothing is left anywhere, else wait for the
        other workers or external services (or stop, with ``once``). False when the run ends."""
        if self.wake.is_set():
            # a report came in meanwhile (it may have released something): claim before counting
            self.wake.clear()
            self.may_claim = True
            return True
        if self.handed_out and not self.once:
            self.handed_out = False
            self.idle(self.poll)
            return True
        progress = self.engine.progress()
        if self.on_progress:
            self.on_progress(progress, self.result)
        batch_id = self.engine.batch_id
        if progress.ready and not self.may_claim:
            if progress.walked:
                self.idle(self.poll)  # another run walks the batch: its ready items are its own
            self.may_claim = True  # made ready by others since our last claim: claim it first
            return True
        if not self.engine.is_active(progress):
            fin = self.engine.finish()
            self.finished_here = fin is not None
            self.result.status = fin.status if fin else self.store.batch_status(batch_id)
            return False
        if self.once:
            self.result.status = self.store.batch_status(batch_id)
            self.result.awaiting = progress.creating
            return False
        self.idle(self.poll)  # other workers or external services hold the rest
        return True


def _safe_send_many(adapter: Adapter, messages: Sequence[Message]) -> list[Result]:
    """As ``adapters.base.safe_send``, for a bulk adapter; a wrong number of results fails them all."""
    assert isinstance(adapter, BulkSender)
    try:
        results = adapter.send_many(messages)
    except Exception as exc:
        return [Failed(f"{type(exc).__name__}: {exc}", permanent=False)] * len(messages)
    if len(results) != len(messages):
        reason = f"{adapter.name} answered {len(results)} results for {len(messages)} messages"
        return [Failed(reason, permanent=False)] * len(messages)
    return results
