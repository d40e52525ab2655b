"""``http:URL`` (or a bare ``http://...``/``https://...``): POST every create to one URL.

The body is the message JSON (``Content-Type: application/json``), with the header
``Idempotency-Key: <message idempotencyKey>`` so the service can ignore a retried create.
Redirects are not followed (a POST must not turn into a GET); proxies come from the usual
``http_proxy``/``https_proxy``/``no_proxy`` variables, read when the adapter is built.

====================================================  ======================================
the service answers                                   result
====================================================  ======================================
202                                                   ``Accepted()``: it reports later through
                                                      ``resolver complete``/``fail``
other 2xx, body a JSON object (create-object)         ``Created(body)`` if it is valid
                                                      identifierIds (non-empty; str/number/bool
                                                      values), else ``Failed(permanent=True)``
other 2xx, empty body (create-object)                 ``Failed(permanent=True)``
other 2xx, body not JSON (create-object)              ``Failed(permanent=False)``
other 2xx, any body (create-link)                     ``Created(None)``
3xx                                                   ``Failed(permanent=True)``
408, 425, 429                                         ``Failed(permanent=False)``
other 4xx                                             ``Failed(permanent=True,
                                                      "HTTP 4xx: <first 200 chars of body>")``
5xx                                                   ``Failed(permanent=False)``
connection refused/reset, DNS failure, timeout        ``Failed(permanent=False)``
====================================================  ======================================

``timeout`` (seconds) bounds connecting and each read, not the whole exchange.

Each thread that sends keeps its connection open for the next POST (HTTP/1.1 keep-alive), unless
the service closes it or a proxy applies (then urllib opens one per POST). A POST that finds its
kept connection closed by the service while it sat idle goes once more on a new one: the service
had not read it, and the Idempotency-Key makes a repeat harmless anyway.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

from ..errors import AdapterError
from ..models import Message, identifier_problem
from ..text import clip
from .base import Accepted, Created, Failed, Result

__all__ = ["HttpAdapter"]

#: 4xx answers that mean "try again later" rather than "this request is wrong"
TRANSIENT_4XX = frozenset({408, 425, 429})
#: the most of a response body read (a service answering more is not answering identifierIds)
MAX_BODY = 1 << 20
#: what a kept connection raises when the service closed it while it sat idle
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class HttpAdapter:
    name = "http"
    inline = False

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise AdapterError(f"http adapter: bad URL {url!r}: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AdapterError(
                f"http adapter: bad URL {url!r}: need http:// or https:// and a host, "
                "e.g. http:https://api.example.com/create"
            )
        if timeout <= 0:
            raise AdapterError(f"http adapter {url!r}: timeout must be positive, got {timeout}")
        self.url = url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        # the port always given: http.client would read the tail of an IPv6 literal ("::1") as one
        self._host, self._port = parts.hostname, port or (443 if self._https else 80)
        self._target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self._opener: urllib.request.OpenerDirector | None = None
        if parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(
            parts.netloc.rpartition("@")[2]
        ):
            # One opener for every thread: these handlers keep no per-request state. Without
            # HTTPErrorProcessor and HTTPRedirectHandler every answer comes back as a response.
            self._opener = urllib.request.OpenerDirector()
            for handler in (
                urllib.request.ProxyHandler(),
                urllib.request.HTTPHandler(),
                urllib.request.HTTPSHandler(),
            ):
                self._opener.add_handler(handler)
        self._local = threading.local()  # each sending thread's kept connection
        self._kept: list[http.client.HTTPConnection] = []  # all of them, for close
        self._kept_lock = threading.Lock()

    def send(self, message: Message) -> Result:
        body = json.dumps(message).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": message["idempotencyKey"],
            "User-Agent": "resolver",
        }
        try:
            if self._opener is not None:
                status, location, answer = self._post_via_proxy(body, headers)
            else:
                status, location, answer = self._post(body, headers)
        except (OSError, http.client.HTTPException) as exc:  # URLError and TimeoutError are OSErrors
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            text = str(reason) or type(reason).__name__
            return Failed(f"POST {self.url}: {text}", permanent=False)
        return self._result(message, status, location, answer)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str | None, bytes]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        reused = conn is not None and conn.sock is not None
        if conn is None:
            conn = self._connect()
        try:
            return self._exchange(conn, body, headers)
        except STALE:
            if not reused:
                raise
        return self._exchange(conn, body, headers)  # closed by then: it connects again by itself

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self.timeout)
        self._local.conn = conn
        with self._kept_lock:
            self._kept.append(conn)
        return conn

    def _exchange(
        self, conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, bytes]:
        try:
            conn.request("POST", self._target, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read(MAX_BODY)
        except BaseException:
            conn.close()  # a half-done exchange leaves the connection unusable
            raise
        if not response.isclosed():  # an answer longer than MAX_BODY: the rest is never read
            conn.close()
        return response.status, response.getheader("Location"), answer

    def _post_via_proxy(self, body: bytes, headers: dict[str, str]) -> tuple[int, str | None, bytes]:
        assert self._opener is not None
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        with self._opener.open(request, timeout=self.timeout) as response:
            return response.status, response.headers.get("Location"), response.read(MAX_BODY)

    def _result(self, message: Message, status: int, location: str | None, body: bytes) -> Result:
        text = body.decode(errors="replace").strip()
        if status == 202:
            return Accepted()
        if 200 <= status < 300:
            if message["kind"] != "create-object":  # a link, or the batch-complete notice
                return Created(None)
            if not text:
                return Failed(f"HTTP {status}: returned no identifierIds (empty body)", permanent=True)
            try:
                value = json.loads(text)
            except ValueError as exc:
                return Failed(f"HTTP {status}: body is not JSON ({exc}): {clip(text)}", permanent=False)
            problem = identifier_problem(value)
            if problem is not None:
                return Failed(f"HTTP {status}: {problem}", permanent=True)
            return Created(value)
        if 300 <= status < 400:
            where = f" to {location}" if location else ""
            return Failed(f"HTTP {status}: redirect{where} not followed", permanent=True)
        permanent = 400 <= status < 500 and status not in TRANSIENT_4XX
        return Failed(f"HTTP {status}: {clip(text)}" if text else f"HTTP {status}", permanent=permanent)

    def close(self) -> None:
        if self._opener is not None:
            self._opener.close()
        with self._kept_lock:
            for conn in self._kept:
                conn.close()
            self._kept.clear()
