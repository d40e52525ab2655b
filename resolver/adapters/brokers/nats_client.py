"""What the resolver's adapter and ``resolver worker`` both do with a NATS connection: connect
(bounded, one line on failure), set up the streams and consumers (idempotent), publish many
messages and await their PubAcks riding out a lost connection, and, for the adapter, run one
asyncio event loop in a thread of its own (nats-py is asyncio; the engine is threads).

nats-py reports connection trouble through callbacks; they are turned into single log lines
here (a traceback is a bug), and the client reconnects for as long as the process lives.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, PubAck, StreamConfig
from nats.js.client import JetStreamContext

from ...errors import AdapterError, BrokerUnavailableError
from ...text import clip
from .nats_wire import NatsSettings, Outgoing, stream_configs
from .subjects import Subjects

__all__ = [
    "LoopThread",
    "PublishFailure",
    "close_connection",
    "connect",
    "describe",
    "ensure_consumer",
    "ensure_streams",
    "fetch_some",
    "gather_quietly",
    "publish_all",
]

log = logging.getLogger("resolver.nats")
T = TypeVar("T")

_ACK_TIMEOUT = 5.0  # seconds for a PubAck before the publish is sent again (same Nats-Msg-Id)
_OVERLAP = 10100  # "filtered consumer not unique on workqueue stream"
_STREAM_NAME_IN_USE = 10058


def describe(exc: BaseException) -> str:
    """An exception of nats-py as a short phrase for a one-line message."""
    if isinstance(exc, nats.js.errors.APIError):
        return clip(exc.description or type(exc).__name__)
    text = str(exc).removeprefix("nats: ").strip()
    return clip(text or type(exc).__name__)


@dataclass
class _Health:
    """What the callbacks saw: the last error, and whether the connection ever stood."""

    last_error: str = ""
    up: bool = False
    told_down: bool = False


async def connect(settings: NatsSettings, name: str) -> NATS:
    """A connected client that reconnects forever (every 0.5 s); BrokerUnavailableError when no
    server of the list answers within ``settings.connect_timeout``, or one refuses the login."""
    health = _Health()
    nc = NATS()

    async def on_error(exc: Exception) -> None:
        health.last_error = describe(exc)
        if health.up and not health.told_down and not nc.is_connected:
            health.told_down = True
            log.warning("lost the connection to NATS (%s); reconnecting", health.last_error)

    async def on_disconnect() -> None:
        if health.up and not health.told_down and not nc.is_closed:
            health.told_down = True
            log.warning("lost the connection to NATS at %s; reconnecting", settings.shown_servers)

    async def on_reconnect() -> None:
        health.told_down = False
        url = nc.connected_url
        log.warning("reconnected to NATS at %s", f"{url.hostname}:{url.port}" if url else "?")

    options: dict[str, Any] = {
        "servers": list(settings.servers),
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 2,
        # a dead server that does not close its sockets is noticed within 20 s, not 4 minutes
        "ping_interval": 10,
        "max_outstanding_pings": 2,
        "error_cb": on_error,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
    }
    if settings.user is not None:
        options["user"] = settings.user
        options["password"] = settings.password or ""
    elif settings.auth_token is not None:
        options["token"] = settings.auth_token
    task = asyncio.ensure_future(nc.connect(**options))
    deadline = time.monotonic() + settings.connect_timeout
    while not task.done() and time.monotonic() < deadline:
        await asyncio.wait([task], timeout=0.05)
        if "authoriz" in health.last_error.lower() or "authentic" in health.last_error.lower():
            break  # reconnecting does not make a wrong password right
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await _quiet_close(nc)
        why = health.last_error or f"no answer in {settings.connect_timeout:g} s"
        raise BrokerUnavailableError(f"cannot connect to NATS at {settings.shown_servers}: {why}")
    try:
        task.result()
    except Exception as exc:
        await _quiet_close(nc)
        raise BrokerUnavailableError(
            f"cannot connect to NATS at {settings.shown_servers}: {describe(exc)}"
        ) from None
    health.up = True
    return nc


async def close_connection(nc: NATS) -> None:
    """Flush what is buffered (acks) and close. Not ``drain``: nats-py's drain waits on the
    queues of pull subscriptions, which nothing empties, until its 30 s timeout."""
    if nc.is_connected:
        with contextlib.suppress(Exception):
            await nc.flush(timeout=5)
    await _quiet_close(nc)


async def _quiet_close(nc: NATS) -> None:
    with contextlib.suppress(Exception):  # closing what never stood: nothing to tell
        await nc.close()


async def ensure_streams(js: JetStreamContext, subjects: Subjects, replicas: int | None) -> None:
    """Create the three streams, or bring an existing one to this configuration where the
    server allows it. ``replicas`` None keeps an existing stream's replica count (1 for a new
    one), so a process started without RESOLVER_NATS_REPLICAS never shrinks a cluster's."""
    for config in stream_configs(subjects, replicas or 1):
        try:
            await js.add_stream(config)
            continue
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != _STREAM_NAME_IN_USE:
                raise _broker_error(f"cannot create stream {config.name}", exc) from None
        except (TimeoutError, nats.errors.Error) as exc:
            raise _broker_error(f"cannot create stream {config.name}", exc) from None
        await _update_stream(js, config, replicas)


async def _update_stream(js: JetStreamContext, config: StreamConfig, replicas: int | None) -> None:
    assert config.name is not None
    try:
        current = (await js.stream_info(config.name)).config
    except (TimeoutError, nats.errors.Error) as exc:
        raise _broker_error(f"cannot read stream {config.name}", exc) from None
    if current.retention != config.retention or current.storage != config.storage:
        raise AdapterError(
            f"stream {config.name} exists with retention {_value(current.retention)} and storage "
            f"{_value(current.storage)}; the resolver needs {_value(config.retention)} and "
            f"{_value(config.storage)}: delete it or pick another RESOLVER_NATS_PREFIX"
        )
    if replicas is None:
        config.num_replicas = current.num_replicas
    wanted = ("subjects", "num_replicas", "duplicate_window", "max_age")
    if all(_same(getattr(current, k), getattr(config, k)) for k in wanted):
        return
    try:
        await js.update_stream(config)
    except (TimeoutError, nats.errors.Error) as exc:
        raise _broker_error(f"cannot update stream {config.name}", exc) from None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) < 1e-3
    return bool(a == b) or (not a and not b)


def _value(v: Any) -> str:
    return str(getattr(v, "value", v))


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the durable consumer, or update the settings of an existing one."""
    try:
        await js.add_consumer(stream, config)
    except nats.js.errors.APIError as exc:
        if exc.err_code == _OVERLAP:
            raise AdapterError(
                f"consumer {config.durable_name} on {stream}: its subjects overlap those of another "
                "consumer, and a work-queue stream gives each message to one consumer; give every "
                "worker group disjoint --subjects (or delete the other consumer)"
            ) from None
        raise _broker_error(f"cannot set up consumer {config.durable_name} on {stream}", exc) from None
    except (TimeoutError, nats.errors.Error) as exc:
        raise _broker_error(f"cannot set up consumer {config.durable_name} on {stream}", exc) from None


def _broker_error(what: str, exc: BaseException) -> BrokerUnavailableError:
    return BrokerUnavailableError(f"{what}: {describe(exc)}")


# -- publishing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishFailure:
    reason: str
    permanent: bool = False


async def publish_all(
    nc: NATS, js: JetStreamContext, items: Sequence[Outgoing], outage_wait: float
) -> list[PubAck | PublishFailure]:
    """Publish every item and await its PubAck, all at once. What gets no PubAck (the server
    went away, the ack was lost) is published again, with the same ``Nats-Msg-Id`` so the
    stream keeps one copy, once the connection is back: for up to ``outage_wait`` seconds,
    after which it is a transient PublishFailure. Too large a message fails permanently."""
    results: list[PubAck | PublishFailure | None] = [None] * len(items)
    todo = list(range(len(items)))
    deadline = time.monotonic() + outage_wait
    reason = "no PubAck"
    pause = 0.1
    while todo:
        if nc.is_closed:
            reason = "the connection to NATS is closed"
            break
        if not nc.is_connected:
            if time.monotonic() >= deadline:
                reason = f"NATS unreachable for {outage_wait:g} s"
                break
            await asyncio.sleep(0.05)
            continue
        futures: dict[int, asyncio.Future[PubAck]] = {}
        unsent: list[int] = []
        for n, i in enumerate(todo):
            item = items[i]
            try:
                futures[i] = await js.publish_async(item.subject, item.body, headers=dict(item.headers))
            except nats.errors.MaxPayloadError:
                results[i] = PublishFailure(
                    f"the message is {len(item.body):,} bytes, more than the server's max_payload",
                    permanent=True,
                )
            except (nats.errors.Error, OSError) as exc:  # reconnecting, buffer full, closed
                reason = describe(exc)
                unsent = todo[n:]
                break
        if futures:
            await asyncio.wait(futures.values(), timeout=_ACK_TIMEOUT)
        again = list(unsent)
        for i, fut in futures.items():
            if not fut.done():
                fut.cancel()  # nats-py forgets a future only once it is done
                again.append(i)
                reason = f"no PubAck in {_ACK_TIMEOUT:g} s"
            elif fut.cancelled():
                again.append(i)
            elif (error := fut.exception()) is not None:
                reason = describe(error)
                again.append(i)
            else:
                results[i] = fut.result()
        todo = sorted(again)
        if todo:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))
            pause = min(2.0, pause * 2)
    for i in todo:
        results[i] = PublishFailure(reason)
    return [r if r is not None else PublishFailure(reason) for r in results]


async def fetch_some(sub: JetStreamContext.PullSubscription, batch: int, wait: float = 1.0) -> list[Msg]:
    """Up to ``batch`` messages: waits up to ``wait`` for the first, then takes as many more as
    the first said were pending (its ``num_pending``). nats-py's ``fetch(batch)`` alone holds a
    lingering pull open until the batch is full or ``wait`` is over, which would put ``wait``
    on every hop between a batch's dependency levels whenever fewer than ``batch`` are there."""
    try:
        first = await sub.fetch(1, timeout=wait)
    except TimeoutError:  # asyncio's and nats-py's timeouts both derive from it
        return []
    try:
        pending = int(first[0].metadata.num_pending)
    except Exception:  # not a JetStream message: nothing to tell
        pending = 0
    if batch <= 1 or pending <= 0:
        return first
    try:
        # others may take some of them first: then this waits (50 ms at most) for the rest
        more = await sub.fetch(min(batch - 1, pending), timeout=0.05)
    except TimeoutError:
        more = []
    return first + more


# -- the adapter's event loop ---------------------------------------------------------------------


class LoopThread:
    """One asyncio event loop in a daemon thread; ``run`` hands it a coroutine from any other
    thread and waits for the result."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the loop; its result comes later."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


async def gather_quietly(calls: Sequence[Awaitable[Any]]) -> None:
    """Acks, naks and in-progress notes: fire and forget; a lost one only means the message
    comes again after its AckWait, which every step here is ready for."""
    if calls:
        await asyncio.gather(*calls, return_exceptions=True)
