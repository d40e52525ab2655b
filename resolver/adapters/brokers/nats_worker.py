"""The services' side of the NATS broker (``resolver worker``): take create requests from the
work-queue stream, call the handler, publish its answer where the request says, and ack.

Any number of workers on any number of machines share one durable pull consumer (per worker
group, see ``nats_wire.worker_consumer``), so each create goes to one of them. For each fetched
batch:

- the handler (an ``Adapter``: ``python:``, ``command:``...) is called for every message, at most
  ``concurrency`` at once, while an in-progress note (``+WPI``) every third of the AckWait keeps
  the lease of a slow handler alive;
- ``Created`` becomes a completion item, ``Failed(permanent)`` a failure item with ``permanent``
  true; the items of a batch go out as JSON arrays, one message per reply subject and kind;
- the creates are acked only once their answer's PubAck came; ``Accepted`` (the handler reports
  by itself) is acked at once;
- a transient ``Failed`` is nak'd with an exponential delay, so it comes again; on its last
  delivery (MaxDeliver) it becomes a failure item with ``permanent`` false, which the resolver
  retries by its own rules;
- a message that is no create request is logged in one line and terminated (never redelivered).

The handler also hears each batch-complete notice once per worker group (``notices``).
``stop`` ends the fetching; what was fetched is finished, answered and acked first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import queue
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import PubAck
from nats.js.client import JetStreamContext

from ...errors import AdapterError
from ...models import Message
from ...text import clip, shown
from ..base import Accepted, Adapter, Created, Failed, Result
from .nats_client import (
    close_connection,
    connect,
    describe,
    ensure_consumer,
    ensure_streams,
    fetch_some,
    gather_quietly,
    publish_all,
)
from .nats_wire import (
    BATCH_HEADER,
    MSG_ID,
    Job,
    NatsSettings,
    Outgoing,
    Streams,
    body_of,
    decode_create,
    notice_consumer,
    worker_consumer,
)
from .subjects import Subjects

__all__ = ["Worker", "WorkerOptions", "WorkerStats"]

log = logging.getLogger("resolver.nats")

_ITEMS_PER_ANSWER = 500
_ANSWER_BYTES = 256 * 1024  # well under the server's 1 MiB max_payload


@dataclass(frozen=True)
class WorkerOptions:
    subjects: tuple[str, ...] = ()  # --subjects entries, as given
    batch: int = 100
    concurrency: int = 4
    ack_wait: float = 60.0
    max_deliver: int = 10
    backoff: tuple[float, float] = (1.0, 60.0)
    notices: bool = True


@dataclass
class WorkerStats:
    creates: int = 0
    created: int = 0
    failed: int = 0
    accepted: int = 0
    retried: int = 0
    dropped: int = 0
    notices: int = 0
    seconds: float = 0.0


class Worker:
    """One worker process's loop; ``run`` until ``stop`` is set."""

    def __init__(self, settings: NatsSettings, handler: Adapter, options: WorkerOptions, name: str):
        self.settings = settings
        self.handler = handler
        self.options = options
        self.name = name
        self.subjects = Subjects(settings.prefix)
        self.streams = Streams(settings.prefix)
        try:
            self.filters = sorted({self.subjects.filter_for(s) for s in options.subjects})
        except ValueError as exc:
            raise AdapterError(f"--subjects {exc}") from None
        self.config = worker_consumer(self.subjects, self.filters, options.ack_wait, options.max_deliver)
        self.stats = WorkerStats()
        self._pool = ThreadPoolExecutor(max(1, options.concurrency), thread_name_prefix="resolver-handler")
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None

    @property
    def consumer(self) -> str:
        assert self.config.durable_name is not None
        return self.config.durable_name

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> WorkerStats:
        loop = asyncio.get_running_loop()
        started = loop.time()
        nc = await connect(self.settings, self.name)
        self._nc, self._js = nc, nc.jetstream()
        js = self._js
        try:
            await ensure_streams(js, self.subjects, self.settings.replicas)
            await ensure_consumer(js, self.streams.creates, self.config)
            sub = await js.pull_subscribe_bind(consumer=self.consumer, stream=self.streams.creates)
            loops = [self._creates(sub, stop)]
            if self.options.notices:
                notices = notice_consumer(self.subjects, self.filters, self.options.max_deliver)
                await ensure_consumer(js, self.streams.notices, notices)
                assert notices.durable_name is not None
                nsub = await js.pull_subscribe_bind(
                    consumer=notices.durable_name, stream=self.streams.notices
                )
                loops.append(self._notices(nsub, stop))
            if ready is not None:
                ready.set()
            await asyncio.gather(*loops)
        finally:
            self._pool.shutdown(wait=True)
            await close_connection(nc)
            self.stats.seconds = loop.time() - started
        return self.stats

    # -- creates ----------------------------------------------------------------------------------

    async def _creates(self, sub: JetStreamContext.PullSubscription, stop: asyncio.Event) -> None:
        # Two batches at once: the next one is fetched while the last one's answers publish.
        slots = asyncio.Semaphore(2)
        busy: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            await slots.acquire()
            msgs = await _fetch(sub, self.options.batch, stop)
            if not msgs:
                slots.release()
                continue
            task = asyncio.create_task(self._process(msgs))
            busy.add(task)

            def finished(t: asyncio.Task[None]) -> None:
                busy.discard(t)
                slots.release()

            task.add_done_callback(finished)
        if busy:
            await asyncio.gather(*busy, return_exceptions=True)

    async def _process(self, msgs: Sequence[Msg]) -> None:
        jobs: list[tuple[Msg, Job]] = []
        dropped: list[Msg] = []
        for msg in msgs:
            try:
                jobs.append((msg, decode_create(self.subjects, msg.subject, msg.data, msg.headers)))
            except ValueError as exc:
                log.warning("%s: dropped: %s", _where(msg), exc)
                dropped.append(msg)
        self.stats.dropped += len(dropped)
        await gather_quietly([m.term() for m in dropped])
        if not jobs:
            return
        self.stats.creates += len(jobs)
        async with asyncio.TaskGroup() as group:
            renewing = group.create_task(self._keep_alive([m for m, _ in jobs]))
            results = await self._call([cast(Message, job.message) for _, job in jobs])
            renewing.cancel()
        groups: dict[tuple[str, str], list[tuple[Msg, dict[str, Any]]]] = {}
        acks: list[Msg] = []
        naks: list[tuple[Msg, float]] = []
        for (msg, job), result in zip(jobs, results, strict=True):
            answer = self._answer(msg, job, result)
            if answer is None:
                if isinstance(result, Accepted):
                    acks.append(msg)
                else:
                    naks.append((msg, self._delay(_deliveries(msg))))
                continue
            kind, item = answer
            groups.setdefault((f"{job.reply}.{kind}", job.batch_header), []).append((msg, item))
        acks += await self._publish_answers(groups)
        await gather_quietly([m.ack() for m in acks] + [m.nak(delay=d) for m, d in naks])

    def _answer(self, msg: Msg, job: Job, result: Result) -> tuple[str, dict[str, Any]] | None:
        """(kind, item) of the answer to publish, or None: accepted, or to be tried again."""
        if isinstance(result, Created):
            self.stats.created += 1
            if job.is_object:
                return "completions", {**job.item, "identifierIds": result.identifierIds or {}}
            return "completions", dict(job.item)
        if isinstance(result, Accepted):
            self.stats.accepted += 1
            return None
        reason = clip(result.reason or "the handler failed it", 1000)
        if result.permanent:
            self.stats.failed += 1
            return "failures", {**job.item, "reason": reason, "permanent": True}
        deliveries = _deliveries(msg)
        if deliveries < self.options.max_deliver:
            self.stats.retried += 1
            return None
        self.stats.failed += 1
        reason = f"{reason} (gave up after {deliveries} deliveries)"
        return "failures", {**job.item, "reason": reason, "permanent": False}

    async def _publish_answers(
        self, groups: dict[tuple[str, str], list[tuple[Msg, dict[str, Any]]]]
    ) -> list[Msg]:
        """Publish the answer groups; the creates whose answers the stream took, to be acked."""
        assert self._nc is not None and self._js is not None
        chunks: list[tuple[Outgoing, list[Msg]]] = []
        for (subject, batch_header), entries in groups.items():
            for part in _chunks(entries):
                msgs = [m for m, _ in part]
                headers = {MSG_ID: _answer_id(msgs), BATCH_HEADER: batch_header}
                chunks.append((Outgoing(subject, body_of([item for _, item in part]), headers), msgs))
        if not chunks:
            return []
        acks = await publish_all(self._nc, self._js, [o for o, _ in chunks], self.settings.outage_wait)
        done: list[Msg] = []
        for (outgoing, msgs), ack in zip(chunks, acks, strict=True):
            if isinstance(ack, PubAck):
                done += msgs
            else:
                log.warning(
                    "cannot publish %d answer(s) to %s: %s; their creates come again after the AckWait",
                    len(msgs), shown(clip(outgoing.subject, 160)), ack.reason,
                )  # fmt: skip
        return done

    async def _call(self, messages: list[Message]) -> list[Result]:
        """The handler on every message, ``concurrency`` threads pulling from one queue."""
        results: list[Result | None] = [None] * len(messages)
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(messages)):
            todo.put(i)
        handler = self.handler

        def drain() -> None:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                results[i] = _safe_send(handler, messages[i])

        loop = asyncio.get_running_loop()
        threads = min(self.options.concurrency, len(messages))
        await asyncio.gather(*(loop.run_in_executor(self._pool, drain) for _ in range(threads)))
        return [r if r is not None else Failed("the handler gave no answer") for r in results]

    async def _keep_alive(self, msgs: Sequence[Msg]) -> None:
        """While the handler works: tell the server every third of the AckWait (``+WPI``)."""
        every = max(0.5, self.options.ack_wait / 3)
        while True:
            await asyncio.sleep(every)
            await gather_quietly([m.in_progress() for m in msgs])

    def _delay(self, deliveries: int) -> float:
        first, largest = self.options.backoff
        ceiling = min(largest, first * 2.0 ** max(0, deliveries - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    # -- batch-complete notices -------------------------------------------------------------------

    async def _notices(self, sub: JetStreamContext.PullSubscription, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            msgs = await _fetch(sub, 10, stop)
            for msg in msgs:
                message = _notice(msg)
                if message is None:
                    await gather_quietly([msg.term()])
                    continue
                result = await loop.run_in_executor(self._pool, _safe_send, self.handler, message)
                deliveries = _deliveries(msg)
                if (
                    isinstance(result, Failed)
                    and not result.permanent
                    and deliveries < self.options.max_deliver
                ):
                    await gather_quietly([msg.nak(delay=self._delay(deliveries))])
                    continue
                self.stats.notices += 1
                status = message.get("status")
                if isinstance(result, Failed):
                    log.warning("batch %s: the handler failed the batch-complete notice: %s",
                                shown(message["batchId"]), result.reason)  # fmt: skip
                else:
                    log.info("batch %s: %s (batch-complete handed to the handler)",
                             shown(message["batchId"]), status)  # fmt: skip
                await gather_quietly([msg.ack()])


def _notice(msg: Msg) -> Message | None:
    try:
        message = json.loads(msg.data)
    except ValueError as exc:
        log.warning("%s: dropped: body is not JSON (%s)", _where(msg), exc)
        return None
    if not isinstance(message, dict) or message.get("kind") != "batch-complete":
        log.warning("%s: dropped: not a batch-complete message", _where(msg))
        return None
    if not isinstance(message.get("batchId"), str):
        log.warning("%s: dropped: batchId must be a string", _where(msg))
        return None
    return cast(Message, message)


async def _fetch(sub: JetStreamContext.PullSubscription, batch: int, stop: asyncio.Event) -> list[Msg]:
    try:
        return await fetch_some(sub, batch)
    except (nats.errors.Error, OSError) as exc:  # the connection is away: it comes back by itself
        log.debug("fetching: %s", describe(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        return []


def _chunks(entries: list[tuple[Msg, dict[str, Any]]]) -> list[list[tuple[Msg, dict[str, Any]]]]:
    out: list[list[tuple[Msg, dict[str, Any]]]] = []
    part: list[tuple[Msg, dict[str, Any]]] = []
    size = 0
    for entry in entries:
        n = len(body_of(entry[1]))
        if part and (len(part) >= _ITEMS_PER_ANSWER or size + n > _ANSWER_BYTES):
            out.append(part)
            part, size = [], 0
        part.append(entry)
        size += n + 1
    if part:
        out.append(part)
    return out


def _answer_id(msgs: Sequence[Msg]) -> str:
    """The answer's ``Nats-Msg-Id``, from the stream sequences of the creates it answers: a
    worker that died after publishing it and before acking them makes the next one publish the
    same answer for the same creates, which the stream then drops."""
    seqs = ",".join(str(_seq(m)) for m in msgs)
    return "answer " + hashlib.sha256(seqs.encode()).hexdigest()[:32]


def _seq(msg: Msg) -> int:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:
        return 0


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1


def _where(msg: Msg) -> str:
    seq = _seq(msg)
    return f"message on {shown(clip(msg.subject, 160))}" + (f" (stream seq {seq})" if seq else "")


def _safe_send(handler: Adapter, message: Message) -> Result:
    """A handler that raises has failed this item, transiently (as the engine treats it)."""
    try:
        return handler.send(message)
    except Exception as exc:
        return Failed(f"{type(exc).__name__}: {clip(str(exc))}", permanent=False)
