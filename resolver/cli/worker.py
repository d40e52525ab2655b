"""``resolver worker URL --handler SPEC``: the services' side of the NATS broker. It takes create
requests off the work-queue stream, calls the handler, and publishes its answers for the
resolver to record (``resolver.adapters.brokers.nats_worker``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys

import click

from ..adapters import make_adapter
from ..adapters.base import AnswerSource
from ..errors import AdapterError
from .app import cli
from .signals import leave

__all__ = ["worker"]


@cli.command("worker")
@click.argument("url", envvar="RESOLVER_NATS_URL")
@click.option(
    "--handler",
    "handler_spec",
    required=True,
    help="Who creates: python:MODULE:FUNC or command:PROGRAM (any --adapter spec but nats).",
)
@click.option(
    "--subjects",
    multiple=True,
    help="Only these creates: object:TYPE, link:TAG (* for all of a kind), or a subject filter "
    "under resolver.create.; repeatable. Workers with the same --subjects share a consumer.",
)
@click.option("--batch", type=click.IntRange(1, 10_000), default=100, show_default=True, help="Fetch size.")
@click.option(
    "--concurrency", type=click.IntRange(1, 1000), default=4, show_default=True, help="Handler calls at once."
)
@click.option(
    "--ack-wait",
    type=click.FloatRange(1, 86_400),
    default=60.0,
    show_default=True,
    help="Seconds a create is this worker's before another gets it (renewed while the handler runs).",
)
@click.option(
    "--max-deliver",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Deliveries of a create before a transient failure is answered as a failure.",
)
@click.option(
    "--backoff",
    type=(float, float),
    default=(1.0, 60.0),
    show_default=True,
    help="First and largest delay before a transiently failed create comes again, seconds.",
)
@click.option(
    "--notices/--no-notices",
    default=True,
    show_default=True,
    help="Hand batch-complete notices to the handler too (once per group of workers).",
)
def worker(
    url: str,
    handler_spec: str,
    subjects: tuple[str, ...],
    batch: int,
    concurrency: int,
    ack_wait: float,
    max_deliver: int,
    backoff: tuple[float, float],
    notices: bool,
) -> None:
    """Take creates from NATS at URL (nats://HOST:PORT[,...]; RESOLVER_NATS_URL), call the handler,
    publish its answers. SIGINT/SIGTERM: stop fetching, finish what was taken, exit 0."""
    from ..adapters.brokers.nats_wire import NatsSettings
    from ..adapters.brokers.nats_worker import Worker, WorkerOptions

    settings = NatsSettings.from_spec(url)
    if backoff[0] <= 0 or backoff[1] < backoff[0]:
        raise AdapterError(
            f"--backoff {backoff[0]:g} {backoff[1]:g}: the first must be > 0, the largest >= it"
        )
    handler = make_adapter(handler_spec)
    if isinstance(handler, AnswerSource):
        handler.close()
        raise AdapterError(f"--handler {handler_spec!r}: a worker's handler creates; it cannot be a broker")
    options = WorkerOptions(subjects, batch, concurrency, ack_wait, max_deliver, backoff, notices)
    name = f"resolver worker {socket.gethostname()}:{os.getpid()}"
    try:
        the_worker = Worker(settings, handler, options, name)
        _log_lines()
        asyncio.run(_serve(the_worker, handler_spec))
    finally:
        handler.close()
    stats = the_worker.stats
    click.echo(
        f"worker stopped: {stats.creates} create(s) in {stats.seconds:.1f}s - {stats.created} created, "
        f"{stats.failed} failed, {stats.accepted} accepted, {stats.retried} to retry, "
        f"{stats.dropped} dropped; {stats.notices} notice(s)",
        err=True,
    )


async def _serve(the_worker: object, handler_spec: str) -> None:
    from ..adapters.brokers.nats_worker import Worker

    assert isinstance(the_worker, Worker)
    stop = asyncio.Event()
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(number: int) -> None:
        if stop.is_set():
            leave(128 + number)  # a second signal: a handler may hang; do not wait for it
        stop.set()
        click.echo("stopping: finishing what was taken", err=True)

    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, on_signal, number)

    async def announce() -> None:
        await ready.wait()
        shown = the_worker.settings.shown_servers
        filters = ", ".join(the_worker.filters) or "every create"
        click.echo(
            f"worker ready: {shown}, consumer {the_worker.consumer} ({filters}), handler {handler_spec}",
            err=True,
        )

    told = asyncio.create_task(announce())
    try:
        await the_worker.run(stop, ready)
    finally:
        told.cancel()


def _log_lines() -> None:
    """The broker's log lines on stderr, one per problem, named by this worker's pid."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"worker {os.getpid()}: %(message)s"))
    logger = logging.getLogger("resolver.nats")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
