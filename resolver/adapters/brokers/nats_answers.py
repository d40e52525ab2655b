"""The resolver's side of the answers: a thread that fetches them from the shared durable pull
consumer, hands them to the run's sink (which records them), and acks each one only after the
sink returned.

Each message is read on its own first (subject, body, items), so one unusable message is
logged and acked without touching its neighbours; the usable ones are grouped by batch and
kind, in order, and recorded in one sink call per group. A group the sink refuses as a whole
(an unknown batch or item) is retried message by message, so that only the bad message is
dropped. What happens to a message:

- recorded, already complete, or unusable (malformed, unknown batch or item, refused because
  its item is not awaiting an answer): acked, with one log line for each unusable one;
- refused because its item is ``ready``: a lease ran out and the item waits to be dispatched
  again, which the broker will drop as a duplicate; so the answer is the one it will wait
  for: nak'd with a delay, to be recorded once the item is in flight again (up to the
  consumer's MaxDeliver, then dropped with a line);
- the store unreachable, or the sink failing unexpectedly: nak'd with a delay (redelivered).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from ...errors import StoreUnavailableError, UsageError
from ...reporting import ItemResult, ReportError, ReportKind
from ...text import clip, shown
from ..base import ReportSink
from .nats_client import LoopThread, describe, fetch_some, gather_quietly
from .nats_wire import ANSWER_CONSUMER, ANSWER_MAX_DELIVER, Answer, Streams, decode_answer
from .subjects import Subjects

__all__ = ["AnswerListener"]

log = logging.getLogger("resolver.nats")

FETCH = 1000  # answers per fetch; each may hold many items
_RETRY_DELAY = 5.0  # seconds before a nak'd answer comes again
_READY_DELAY = 2.0


@dataclass
class _Parsed:
    msg: Msg
    answer: Answer

    @property
    def where(self) -> str:
        return _where(self.msg)


def _where(msg: Msg) -> str:
    try:
        seq = f" (stream seq {msg.metadata.sequence.stream})"
    except Exception:  # not a JetStream message: no sequence to name
        seq = ""
    return f"answer on {shown(clip(msg.subject, 160))}{seq}"


class AnswerListener:
    """``start`` binds to the consumer and starts the thread; ``stop`` lets the current batch of
    answers finish (recorded and acked) and ends it."""

    def __init__(self, bridge: LoopThread, js: JetStreamContext, subjects: Subjects, sink: ReportSink):
        self.bridge = bridge
        self.js = js
        self.subjects = subjects
        self.sink = sink
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._sub: JetStreamContext.PullSubscription | None = None
        self._store_down_since: float | None = None

    def start(self) -> None:
        stream = Streams(self.subjects.prefix).answers
        self._sub = self.bridge.run(
            self.js.pull_subscribe_bind(consumer=ANSWER_CONSUMER, stream=stream), timeout=30
        )
        self._thread = threading.Thread(target=self._main, name="resolver-nats-answers", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sub is not None:
            with contextlib.suppress(Exception):  # the connection is going anyway
                self.bridge.run(self._sub.unsubscribe(), timeout=5)

    def _main(self) -> None:
        assert self._sub is not None
        sub = self._sub
        # The next fetch runs while a batch is recorded: the store, not the broker, sets the pace.
        ahead: concurrent.futures.Future[list[Msg]] | None = None
        while not self._stopping.is_set() or ahead is not None:
            fetching = ahead or self.bridge.submit(fetch_some(sub, FETCH))
            ahead = None
            try:
                msgs = fetching.result(timeout=30)
            except Exception as exc:  # no connection now, a timeout of the fetch itself
                log.debug("fetching answers: %s", describe(exc))
                self._stopping.wait(0.5)
                continue
            if msgs:
                if not self._stopping.is_set():
                    ahead = self.bridge.submit(fetch_some(sub, FETCH))
                self.handle(msgs)  # fetched ones are recorded even when stopping

    # -- one fetched batch ------------------------------------------------------------------------

    def handle(self, msgs: Sequence[Msg]) -> None:
        groups: dict[tuple[str, ReportKind], list[_Parsed]] = {}
        acks: list[Msg] = []
        for msg in msgs:
            try:
                answer = decode_answer(self.subjects, msg.subject, msg.data, msg.headers)
            except (ReportError, ValueError) as exc:
                log.warning("%s: dropped: %s", _where(msg), exc)
                acks.append(msg)
                continue
            groups.setdefault((answer.batch_id, answer.kind), []).append(_Parsed(msg, answer))
        self._settle(acks=acks)
        for (batch_id, kind), parsed in groups.items():
            self._record(batch_id, kind, parsed)

    def _record(self, batch_id: str, kind: ReportKind, parsed: list[_Parsed]) -> None:
        reports = [r for p in parsed for r in p.answer.reports]
        try:
            results = self.sink(batch_id, kind, reports)
        except UsageError as exc:
            if len(parsed) > 1:  # find the message that spoils the group; record the others
                for one in parsed:
                    self._record(batch_id, kind, [one])
                return
            log.warning("%s: dropped: %s", parsed[0].where, exc)
            self._settle(acks=[parsed[0].msg])
            return
        except StoreUnavailableError as exc:
            if self._store_down_since is None:
                self._store_down_since = time.monotonic()
                log.warning("cannot record answers now (%s); they come again in %g s", exc, _RETRY_DELAY)
            self._again(parsed, str(exc))
            self._stopping.wait(1.0)
            return
        except Exception as exc:  # a bug or an unmapped driver error: redeliver, bounded
            log.warning(
                "cannot record %d answer(s) for batch %s: %s: %s; they come again in %g s",
                len(parsed), shown(batch_id), type(exc).__name__, clip(str(exc)), _RETRY_DELAY,
            )  # fmt: skip
            self._again(parsed, f"{type(exc).__name__}: {clip(str(exc))}")
            return
        self._store_down_since = None
        self._after_record(parsed, list(results) if results is not None else None)

    def _again(self, parsed: list[_Parsed], why: str) -> None:
        """Nak for a redelivery; on the last delivery the consumer allows, drop with a line
        instead (the server would keep it in the work queue, undelivered, for good)."""
        last = [p for p in parsed if _deliveries(p.msg) >= ANSWER_MAX_DELIVER]
        for p in last:
            log.warning("%s: dropped after %d deliveries: %s", p.where, ANSWER_MAX_DELIVER, why)
        again = [p.msg for p in parsed if p not in last]
        self._settle(acks=[p.msg for p in last], naks=again, delay=_RETRY_DELAY)

    def _after_record(self, parsed: list[_Parsed], results: list[ItemResult] | None) -> None:
        acks: list[Msg] = []
        naks: list[Msg] = []
        i = 0
        for p in parsed:
            n = len(p.answer.reports)
            mine = results[i : i + n] if results is not None else []
            i += n
            refused = [r for r in mine if r.outcome == "refused"]
            waiting_again = [r for r in refused if r.status == "ready"]
            if waiting_again and _deliveries(p.msg) < ANSWER_MAX_DELIVER:
                naks.append(p.msg)  # see the module docstring: it is the answer the item awaits
                continue
            if refused:
                first = refused[0]
                log.warning(
                    "%s: %d item(s) not recorded, not awaiting an answer: %s %r (status: %s)%s",
                    p.where, len(refused), first.kind, first.item_id, first.status,
                    f" and {len(refused) - 1} more" if len(refused) > 1 else "",
                )  # fmt: skip
            acks.append(p.msg)
        self._settle(acks=acks, naks=naks, delay=_READY_DELAY)

    def _settle(self, acks: Sequence[Msg] = (), naks: Sequence[Msg] = (), delay: float = 0.0) -> None:
        if not acks and not naks:
            return
        calls = [m.ack() for m in acks] + [m.nak(delay=delay) for m in naks]
        try:
            self.bridge.run(gather_quietly(calls), timeout=30)
        except Exception as exc:  # lost acks: those answers come again, and repeat harmlessly
            log.debug("acking answers: %s", describe(exc))


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1
