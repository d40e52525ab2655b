"""The batch runners of ``resolver serve``: one thread per running batch, each calling
``resolve(...)`` with a ``stop`` and a ``wake`` event of its own. Every runner shares the
service's one store (one driver pool) and one adapter.

- **start**: a submitted batch, a resumed one, one whose items were put back by a retry. A
  runner of a finished batch only delivers the batch-complete it owes, then ends.
- **wake**: a report that recorded something (children released, the last item done) sets the
  batch's ``wake``, which cuts the runner's idle wait short: no polling delay.
- **reported without a runner**: a report that finishes a batch no runner here works on (another
  process dispatched it) makes the batch's final transition and starts a runner that delivers
  the batch-complete through the adapter, so the service still gets it.
- **resume**: on start, every stored batch that is unfinished (``loaded``/``processing``) gets a
  runner, and every finished one that still owes its batch-complete gets it delivered; with
  ``resume_prefixes``, only the batches whose ids start with one of them.
- **stop**: every runner's ``stop`` is set; each records what was answered and gives its leased
  claims back (``Engine``'s halt), so the next serve or run takes them at once.

A runner whose store went away waits and tries again; one whose batch-complete could not be
delivered (the service kept failing) tries again every ``redeliver_every`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .. import reporting
from ..adapters.base import Adapter, AnswerSource
from ..engine import RetryPolicy, RunResult, resolve
from ..errors import ResolverError, StoreUnavailableError, UnknownBatchError
from ..models import Message
from ..reporting import ItemResult, Report, ReportKind
from ..store.base import GraphStore
from ..text import shown

__all__ = ["RunOptions", "Runner", "Runners"]

log = logging.getLogger("resolver.service")

#: seconds between tries when the store cannot be reached
STORE_RETRY = 5.0


@dataclass(frozen=True)
class RunOptions:
    """``run``'s options, for every batch the service runs."""

    workers: int = 10
    lease_seconds: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: float = 0.5  # idle wait between checks when no report wakes the runner
    redeliver_every: float = 30.0


@dataclass
class Runner:
    batch_id: str
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    result: RunResult | None = None

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Runners:
    def __init__(
        self,
        store: GraphStore,
        adapter: Adapter,
        options: RunOptions | None = None,
        *,
        on_message: Callable[[Message], None] | None = None,
        answers: AnswerSource | None = None,
        resume_prefixes: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.adapter = adapter
        self.options = options or RunOptions()
        self._log_message = on_message
        self._log_lock = threading.Lock()
        self._answers = answers
        self.resume_prefixes = tuple(resume_prefixes)
        self._runners: dict[str, Runner] = {}
        self._lock = threading.Lock()
        self.closing = threading.Event()  # set once the service stops: no new runners

    # -- the runners ------------------------------------------------------------------------

    def start(self, batch_id: str) -> Runner | None:
        """The batch's runner, started unless one is alive; None once the service stops."""
        with self._lock:
            if self.closing.is_set():
                return None
            runner = self._runners.get(batch_id)
            if runner is not None and runner.alive():
                return runner
            runner = Runner(batch_id)
            runner.thread = threading.Thread(
                target=self._work, args=(runner,), name=f"resolver-run {batch_id[:40]}", daemon=True
            )
            self._runners[batch_id] = runner
            runner.thread.start()
            return runner

    def alive(self, batch_id: str) -> bool:
        runner = self._runners.get(batch_id)
        return runner is not None and runner.alive()

    def running(self) -> list[str]:
        with self._lock:
            return sorted(b for b, r in self._runners.items() if r.alive())

    def wake(self, batch_id: str) -> bool:
        """Cut the batch's idle wait short; False when no runner here works on it."""
        runner = self._runners.get(batch_id)
        if runner is None or not runner.alive():
            return False
        runner.wake.set()
        return True

    def reported(self, batch_id: str, results: Sequence[ItemResult]) -> None:
        """After a report was recorded: wake the batch's runner; without one, finish the batch
        if that was its last item and deliver its batch-complete."""
        if not any(r.outcome == "recorded" for r in results):
            return  # nothing changed, nothing to wake for
        if self.wake(batch_id):
            return
        if reporting.finish_if_done(self.store, batch_id) is not None:
            self.start(batch_id)  # on a finished batch, a runner only delivers what it owes

    def record(self, batch_id: str, kind: ReportKind, reports: Sequence[Report]) -> list[ItemResult]:
        """Record reports (``reporting.record``: every item checked first), then ``reported``."""
        results = reporting.record(self.store, batch_id, reports, kind)
        self.reported(batch_id, results)
        return results

    def resume(self) -> list[str]:
        """Start a runner for every stored batch that is unfinished or owes its batch-complete
        (only those whose id starts with one of ``resume_prefixes``, when there are any: a
        store shared with other services or tests); the ids started."""
        started = []
        for batch_id in self.store.batch_ids():
            if self.closing.is_set():
                break
            if self.resume_prefixes and not batch_id.startswith(self.resume_prefixes):
                continue
            try:
                status = self.store.batch_status(batch_id)
                owes = status in ("complete", "failed") and self.store.owed(batch_id) is not None
            except UnknownBatchError:
                continue  # being loaded (its loader starts it), or deleted since the listing
            if (status in ("loaded", "processing") or owes) and self.start(batch_id) is not None:
                started.append(batch_id)
        return started

    def listen(self) -> None:
        """A broker adapter's answers come back through it: record them and wake (or finish)."""
        if self._answers is None:
            return

        def sink(batch_id: str, kind: ReportKind, reports: list[Report]) -> None:
            self.record(batch_id, kind, reports)

        self._answers.listen(sink)

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop every runner (each gives its leased claims back) and wait for them, up to
        ``timeout`` seconds in all; the ids of those still running then."""
        self.closing.set()
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.stop.set()
            runner.wake.set()
        deadline = time.monotonic() + timeout
        for runner in runners:
            if runner.thread is not None:
                runner.thread.join(max(0.0, deadline - time.monotonic()))
        return sorted(r.batch_id for r in runners if r.alive())

    def close(self, timeout: float = 30.0) -> None:
        """``stop``, then close the adapter and the store: the service's shutdown."""
        left = self.stop(timeout)
        if left:
            log.warning("runners still busy after %.0fs (their leases run out): %s", timeout, ", ".join(left))
        try:
            self.adapter.close()
        finally:
            self.store.close()

    # -- one runner's thread ----------------------------------------------------------------

    def _work(self, runner: Runner) -> None:
        batch_id = runner.batch_id
        try:
            while not runner.stop.is_set():
                try:
                    result = self._resolve(runner)
                except StoreUnavailableError as exc:
                    log.warning("batch %s: %s; trying again in %.0fs", shown(batch_id), exc, STORE_RETRY)
                    runner.stop.wait(STORE_RETRY)
                    continue
                runner.result = result
                log.info(
                    "batch %s: %s - %d dispatched, %d completed, %d failed in %.1fs%s",
                    shown(batch_id),
                    result.status,
                    result.dispatched,
                    result.completed,
                    result.failed,
                    result.seconds,
                    " (stopped; its claims were given back)" if result.stopped else "",
                )
                if result.undelivered is None or result.stopped:
                    return
                log.warning(
                    "batch %s: batch-complete not delivered (%s); trying again in %.0fs",
                    shown(batch_id),
                    result.undelivered,
                    self.options.redeliver_every,
                )
                runner.stop.wait(self.options.redeliver_every)
        except ResolverError as exc:
            log.warning("batch %s: %s", shown(batch_id), exc)  # replaced, validation errors...
        except Exception:
            log.exception("batch %s: the runner failed", shown(batch_id))
        finally:
            with self._lock:
                if self._runners.get(batch_id) is runner:
                    del self._runners[batch_id]

    def _resolve(self, runner: Runner) -> RunResult:
        o = self.options
        return resolve(
            self.store,
            runner.batch_id,
            self.adapter,
            workers=o.workers,
            lease_seconds=o.lease_seconds,
            retry=o.retry,
            poll=o.poll,
            on_message=self._on_message if self._log_message else None,
            stop=runner.stop,
            wake=runner.wake,
        )

    def _on_message(self, message: Message) -> None:
        assert self._log_message is not None
        with self._log_lock:  # one dispatch log for every runner: whole lines
            self._log_message(message)
