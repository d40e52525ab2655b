"""A service that answers later, for the ``resolver serve`` tests and benchmarks, run inside the
test process: ``SlowService`` (deduplicating by Idempotency-Key, recording every request), except
that it answers 202 to every create and reports the item's completion from other threads through
the ``reply`` URL the message carries, with the service's token.

- ``bulk`` = 1 reports each item in a request of its own; ``bulk`` = N gathers up to N items for
  one URL (waiting up to ``linger`` seconds for more) into one request;
- a create it already answered (the resolver sent it again) is answered 202 and reported again;
- a report that cannot be delivered (the service is down, 503) is tried again until it is, or
  until ``stop``; what came back is kept: ``refused`` items, ``errors`` (any other answer);
- ``report_seconds`` adds up the time spent in report requests (the resolver's side of them).
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import urllib.parse
from typing import Any

from .slow_service import SlowService

__all__ = ["CallbackService"]


class CallbackService(SlowService):
    def __init__(
        self, token: str, *, delay: float = 0.0, bulk: int = 1, reporters: int = 4, linger: float = 0.01
    ) -> None:
        super().__init__(delay)
        self.token = token
        self.bulk = bulk
        self.linger = linger
        self.jobs: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.refused: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.report_requests = 0
        self.reported = 0  # items in report requests answered 200
        self.report_seconds = 0.0
        self.no_reply: list[str] = []
        self._stopping = threading.Event()
        self._stats = threading.Lock()
        self._reporters = [
            threading.Thread(target=self._report_loop, name=f"reporter-{i}", daemon=True)
            for i in range(reporters)
        ]

    def handle(self, key: str, message: dict[str, Any], path: str = "/") -> tuple[int, dict[str, Any] | None]:
        status, answer = super().handle(key, message, path)
        kind = message.get("kind")
        if status != 200 or kind not in ("create-object", "create-link"):
            return status, answer
        reply = message.get("reply")
        if not isinstance(reply, dict) or "url" not in reply:
            with self._stats:
                self.no_reply.append(key)
            return 400, {"error": "no reply URL"}
        if kind == "create-object":
            item: dict[str, Any] = {"objectId": message["objectId"], "identifierIds": answer}
        else:
            item = {"linkId": message["linkId"]}
        self.jobs.put((reply["url"], item))
        return 202, {"accepted": True}

    def reset(self) -> None:
        super().reset()
        with self._stats:
            self.refused.clear()
            self.errors.clear()
            self.no_reply.clear()

    def idle(self) -> bool:
        """Nothing left to report (queued or being sent)."""
        return self.jobs.unfinished_tasks == 0

    # -- reporting back -------------------------------------------------------------------------

    def _report_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                url, item = self.jobs.get(timeout=0.05)
            except queue.Empty:
                continue
            group = [(url, item)]
            deadline = time.monotonic() + self.linger
            while len(group) < self.bulk:
                try:
                    group.append(self.jobs.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            by_url: dict[str, list[dict[str, Any]]] = {}
            for u, i in group:
                by_url.setdefault(u, []).append(i)
            try:
                for u, items in by_url.items():
                    self._deliver(u, items)
            finally:
                for _ in group:
                    self.jobs.task_done()

    def _deliver(self, url: str, items: list[dict[str, Any]]) -> None:
        parts = urllib.parse.urlsplit(url)
        body = json.dumps(items).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        while not self._stopping.is_set():
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
                try:
                    conn.request("POST", parts.path, body=body, headers=headers)
                    response = conn.getresponse()
                    status, raw = response.status, response.read()
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException):
                # the resolver is down (restarting) or was killed mid-answer: try again (a report
                # is idempotent)
                time.sleep(0.05)
                continue
            with self._stats:
                self.report_seconds += time.perf_counter() - t0
                self.report_requests += 1
            if status == 503:
                time.sleep(0.05)
                continue
            if status != 200:
                with self._stats:
                    self.errors.append(f"{status}: {raw[:300]!r} for {items[:3]}")
                return
            results = json.loads(raw)["results"]
            with self._stats:
                self.reported += len(items)
                self.refused += [r for r in results if r["outcome"] == "refused"]
            return

    def start(self) -> CallbackService:
        super().start()
        for t in self._reporters:
            t.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for t in self._reporters:
            t.join()
        super().stop()

    def __enter__(self) -> CallbackService:
        return self.start()
