"""``serve``: the service on uvicorn, bound to 127.0.0.1 unless told otherwise.

The listening socket is bound here, before uvicorn starts, so a port in use is a one-line error,
``--port 0`` works (the system picks one), and the reply URLs of create messages name the port
actually bound. SIGTERM and SIGINT end it gracefully, through uvicorn's shutdown: no new
connections, the requests in progress finish (up to ``GRACE`` seconds), then the app's lifespan
stops every runner (each gives its leased claims back) and closes the adapter and the store. A
second signal ends the process at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType

import uvicorn

from ..adapters.base import Adapter, AnswerSource
from ..errors import UsageError
from ..models import Message
from ..store.base import GraphStore
from .app import create_app
from .limits import DEFAULT_MAX_BODY
from .reply import ReplyAdapter
from .runs import Runners, RunOptions

__all__ = ["GRACE", "Bound", "bind", "serve"]

#: seconds the requests in progress get to finish after SIGTERM
GRACE = 10.0
_WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class Bound:
    sock: socket.socket
    host: str
    port: int

    @property
    def url(self) -> str:
        """How this machine's clients reach it (a wildcard bind: by the machine's name)."""
        host = socket.getfqdn() if self.host in _WILDCARDS else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


def bind(host: str, port: int) -> Bound:
    """A listening socket on ``host:port``; UsageError (one line) when that cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart right after a stop
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(False)
    return Bound(sock, host, sock.getsockname()[1])


def serve(
    store: GraphStore,
    adapter: Adapter,
    token: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    options: RunOptions | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    public_url: str | None = None,
    on_message: Callable[[Message], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
    resume_prefixes: Sequence[str] = (),
) -> int | None:
    """Serve until SIGTERM/SIGINT; returns the signal that stopped it. ``on_ready`` gets the
    base URL once the socket listens (connections made from then on wait for the server).
    ``resume_prefixes`` limits the stored batches resumed on start to those ids."""
    bound = bind(host, port)
    base = (public_url or bound.url).rstrip("/")
    answers = adapter if isinstance(adapter, AnswerSource) else None
    runners = Runners(
        store,
        ReplyAdapter(adapter, base),
        options,
        on_message=on_message,
        answers=answers,
        resume_prefixes=resume_prefixes,
    )
    app = create_app(runners, token, max_body=max_body)
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,  # the caller's logging, not uvicorn's own
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(GRACE),
    )
    server = _Server(config)
    if on_ready is not None:
        on_ready(base)
    server.run(sockets=[bound.sock])
    return server.stopped_by


class _Server(uvicorn.Server):
    """uvicorn's server, which after a graceful stop does not raise the signal again (the
    caller exits with 128 + its number), and ends at once on a second one."""

    stopped_by: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only
            return
        previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stopped_by is not None:
            sys.stderr.flush()
            os._exit(128 + sig)  # asked twice: the leases of what is still claimed run out
        self.stopped_by = sig
        self.should_exit = True
