"""SIGINT and SIGTERM end a run gracefully: the engine records what is answered and gives its
leased claims back, so the next run starts at once instead of waiting out the leases."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import NoReturn

__all__ = ["Stopping", "leave", "stop_signals"]


@dataclass
class Stopping:
    event: threading.Event = field(default_factory=threading.Event)
    signal: int | None = None  # the one that asked


@contextmanager
def stop_signals() -> Iterator[Stopping]:
    """While the block runs, SIGINT and SIGTERM set ``event`` instead of killing the process; a
    second one of them ends it at once (the engine may be waiting on a slow service)."""
    stopping = Stopping()
    if threading.current_thread() is not threading.main_thread():
        yield stopping  # signals reach the main thread only: nothing to install
        return

    def handle(number: int, frame: FrameType | None) -> None:
        if stopping.event.is_set():
            leave(128 + number)
        stopping.signal = number
        stopping.event.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def leave(code: int) -> NoReturn:
    """Exit now. After a stop, threads of the dispatch pool may still wait on a service that
    answers slowly; their items were given back, so nothing is lost by not joining them."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
