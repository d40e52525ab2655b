"""A slow, idempotent HTTP service for the resilience tests, run inside the test process.

``SlowService`` is a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0: the system picks one) that
answers the ``http:`` adapter's POSTs like a real target system would:

- it sleeps ``delay`` seconds per request, so a run takes long enough to be interrupted;
- it records every request (Idempotency-Key header, message, answer) in ``requests``;
- it deduplicates by key: a key it already answered gets the identifierIds it got the first time
  and counts as a dropped duplicate (``duplicates``), so creates are exactly-once on its side;
- ``fail[key] = n`` answers 503 (a transient failure) to the first ``n`` tries of that key,
  ``FOREVER`` to all of them; a failed try creates nothing, so a later try is not a duplicate.

New objects get identifierIds ``{"id": "svc-<n>"}`` with a counter, so an id a child carries can
only have come from this service's answer for its parent.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FOREVER", "Request", "SlowService"]

FOREVER = -1


@dataclass
class Request:
    key: str
    message: dict[str, Any]
    outcome: str  # "created", "duplicate" or "failed"
    answer: dict[str, Any] | None
    path: str = "/"  # where it was posted: tells apart the workers given URLs of their own
    at: float = field(default_factory=time.monotonic)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs under 10+ concurrent clients: 1 s stalls
    service: SlowService


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # as a real service: the adapter's connections stay open between creates, and the answer's
    # small last write is not held back for the client's delayed ACK
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            message = json.loads(body)
        except ValueError:  # cut short by a client that died: it never asked for anything
            self.close_connection = True
            return
        key = self.headers.get("Idempotency-Key") or ""
        status, answer = self.server.service.handle(key, message, self.path)
        data = json.dumps(answer).encode() if answer is not None else b"try again later"
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client died (a killed worker): the create happened all the same

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # a client killed mid-request
            self.close_connection = True


class SlowService:
    def __init__(self, delay: float = 0.003) -> None:
        self.delay = delay
        self.fail: dict[str, int] = {}
        self.requests: list[Request] = []
        self.answers: dict[str, dict[str, Any]] = {}  # key -> what its first success answered
        self.duplicates = 0
        self._tries: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.service = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def handle(self, key: str, message: dict[str, Any], path: str = "/") -> tuple[int, dict[str, Any] | None]:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            tries = self._tries[key] = self._tries.get(key, 0) + 1
            if key in self.answers:
                self.duplicates += 1
                answer: dict[str, Any] | None = self.answers[key]
                outcome = "duplicate"
            else:
                failures = self.fail.get(key, 0)
                if failures == FOREVER or tries <= failures:
                    self.requests.append(Request(key, message, "failed", None, path))
                    return 503, None
                if message.get("kind") == "create-object":
                    answer = {"id": f"svc-{next(self._ids)}"}
                else:
                    answer = {"created": True}
                self.answers[key] = answer
                outcome = "created"
            self.requests.append(Request(key, message, outcome, answer, path))
        return 200, answer

    def tries(self, key: str) -> int:
        with self._lock:
            return self._tries.get(key, 0)

    @property
    def received(self) -> int:
        return len(self.requests)

    def reset(self) -> None:
        with self._lock:
            self.fail.clear()
            self.requests.clear()
            self.answers.clear()
            self._tries.clear()
            self.duplicates = 0

    def start(self) -> SlowService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SlowService:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
