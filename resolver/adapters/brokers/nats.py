"""``nats://HOST:PORT[,nats://HOST2:PORT...]``: the creates go to NATS JetStream, the services
(``resolver worker`` processes, or any program that speaks the wire format of
docs/interface.md, "Broker") take them from there, and their answers come back through a
stream the adapter listens to.

- ``send_many`` (the engine's bulk path: one call per round) publishes every create at once and
  awaits the PubAcks; a create whose PubAck came is stored on the server (file storage), so it
  is ``Accepted``: its answer comes later, through ``listen``. A publish while the connection
  is lost waits for it to come back (up to 60 s) before it fails, transiently.
- A create the stream already holds (a PubAck marked duplicate: same ``Nats-Msg-Id`` inside
  the 10-minute window) is looked up: still queued, it is the one its answer will come from;
  taken by a worker already (a retry, a lease that ran out), it is sent again under
  ``<id> <seq>``, so that the service hears it again (and drops it by its idempotencyKey if it
  had created the item).
- The batch-complete notice is published on the notices stream; its PubAck means delivered.
- ``listen`` starts the answer thread (``nats_answers``); ``close`` stops it, then flushes and
  closes the connection and stops the event loop.

Threads: one asyncio event loop in a daemon thread owns the connection; the engine's thread and
the answer thread hand it coroutines (``LoopThread.run``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import PubAck
from nats.js.client import JetStreamContext

from ...errors import BrokerUnavailableError
from ...models import Message
from ..base import Accepted, Created, Failed, ReportSink, Result
from .nats_answers import AnswerListener
from .nats_client import (
    LoopThread,
    PublishFailure,
    close_connection,
    connect,
    describe,
    ensure_consumer,
    ensure_streams,
    publish_all,
)
from .nats_wire import NatsSettings, Outgoing, Streams, answer_consumer, create_request, resend_id
from .subjects import Subjects

__all__ = ["NatsAdapter"]

_RESENDS = 8  # hops along a chain of re-sends of one item inside the window; far above need


class NatsAdapter:
    name = "nats"
    inline = False  # publishes are I/O; the engine uses send_many, on its own thread

    def __init__(self, spec: str, env: dict[str, str] | None = None) -> None:
        self.settings = NatsSettings.from_spec(spec, env)  # AdapterError before anything else
        self.subjects = Subjects(self.settings.prefix)
        self.streams = Streams(self.settings.prefix)
        self._lock = threading.Lock()
        self._bridge: LoopThread | None = None
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._listener: AnswerListener | None = None
        self._closed = False

    # -- the connection ---------------------------------------------------------------------------

    def _connection(self) -> tuple[LoopThread, NATS, JetStreamContext]:
        """Connect on first use (BrokerUnavailableError), with the streams set up."""
        with self._lock:
            if self._closed:
                raise BrokerUnavailableError("the nats adapter is closed")
            if self._bridge is None:
                self._bridge = LoopThread("resolver-nats")
            if self._nc is None or self._js is None:
                self._nc, self._js = self._bridge.run(self._open())
            return self._bridge, self._nc, self._js

    async def _open(self) -> tuple[NATS, JetStreamContext]:
        nc = await connect(self.settings, f"resolver {socket.gethostname()}")
        js = nc.jetstream()
        try:
            await ensure_streams(js, self.subjects, self.settings.replicas)
        except BaseException:
            await nc.close()
            raise
        return nc, js

    # -- sending ----------------------------------------------------------------------------------

    def send(self, message: Message) -> Result:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[Message]) -> list[Result]:
        try:
            bridge, nc, js = self._connection()
        except BrokerUnavailableError as exc:
            return [Failed(str(exc), permanent=False) for _ in messages]
        outgoing = [create_request(self.subjects, m) for m in messages]
        wait = self.settings.outage_wait
        acks = bridge.run(self._publish(nc, js, outgoing), timeout=wait * (_RESENDS + 1) + 60)
        results: list[Result] = []
        for message, ack in zip(messages, acks, strict=True):
            if isinstance(ack, PublishFailure):
                results.append(Failed(f"NATS: {ack.reason}", permanent=ack.permanent))
            elif message["kind"] == "batch-complete":
                results.append(Created(None))  # on the stream: delivered
            else:
                results.append(Accepted())
        return results

    async def _publish(
        self, nc: NATS, js: JetStreamContext, outgoing: list[Outgoing]
    ) -> list[PubAck | PublishFailure]:
        """Publish all; then follow every duplicate PubAck of a create: queued still, it stands;
        taken by a worker, the create goes out again under the id of a re-send."""
        base_ids = [o.msg_id for o in outgoing]
        results = await publish_all(nc, js, outgoing, self.settings.outage_wait)
        pending = [i for i, r in enumerate(results) if _is_duplicate(r)]
        for _ in range(_RESENDS):
            again: list[int] = []
            for i in pending:
                ack = results[i]
                assert isinstance(ack, PubAck)
                if ack.stream != self.streams.creates:
                    continue  # a notice sent twice: the stream holds it, which is what counts
                try:
                    await js.get_msg(self.streams.creates, ack.seq)
                    continue  # queued: a worker will take it and answer
                except nats.js.errors.NotFoundError:
                    pass  # taken and acked: the service must hear it again
                except (nats.errors.Error, TimeoutError) as exc:
                    results[i] = PublishFailure(f"cannot look up a duplicate: {describe(exc)}")
                    continue
                outgoing[i] = outgoing[i].with_msg_id(resend_id(base_ids[i], ack.seq))
                again.append(i)
            if not again:
                break
            sent = await publish_all(nc, js, [outgoing[i] for i in again], self.settings.outage_wait)
            for i, r in zip(again, sent, strict=True):
                results[i] = r
            pending = [i for i in again if _is_duplicate(results[i])]
        return results

    # -- answers ----------------------------------------------------------------------------------

    def listen(self, sink: ReportSink) -> None:
        """Start recording answers through ``sink`` (again: a no-op). Raises
        BrokerUnavailableError when NATS cannot be reached, so a run fails at its start."""
        bridge, _, js = self._connection()
        with self._lock:
            if self._listener is not None:
                return
            config = answer_consumer(self.subjects, self.settings.answer_ack_wait)
            bridge.run(ensure_consumer(js, self.streams.answers, config), timeout=60)
            listener = AnswerListener(bridge, js, self.subjects, sink)
            listener.start()
            self._listener = listener

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        bridge, nc = self._bridge, self._nc
        if bridge is not None:
            if nc is not None:
                # nothing is in flight any more: lost acks at most, which repeat harmlessly
                with contextlib.suppress(Exception):
                    bridge.run(close_connection(nc), timeout=15)
            bridge.stop()


def _is_duplicate(result: PubAck | PublishFailure) -> bool:
    return isinstance(result, PubAck) and bool(result.duplicate)
