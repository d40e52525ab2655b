"""Reporting back from a service written in Python: what it created, or why it could not.

Two clients with the same methods, so a service can be pointed at either::

    from resolver import ServiceClient, StoreClient

    client = ServiceClient("http://127.0.0.1:8080", token)   # a ``resolver serve``
    client = StoreClient(store)                               # straight to a store

    client.complete("b", "shirt", {"id": "S-1"})              # -> ItemResult
    client.complete_link("b", "l7")
    client.fail("b", object_id="hat", reason="upstream said no", permanent=True)
    client.report("b", "completion", [{"objectId": "shirt", "identifierIds": {"id": "S-1"}},
                                      {"linkId": "l7"}])      # -> [ItemResult, ...]

A create message that ``resolver serve`` dispatched carries ``reply.url``; its base is what
``ServiceClient`` takes. Every item is checked before anything is sent (``reporting.parse_items``,
the parser the service and ``complete --from`` use), so a malformed one raises ReportError and
nothing is recorded. The single-item methods raise NotAwaitingError when the item is not awaiting
a report (its status in the message), as ``resolver complete`` exits 1; ``report`` returns each
item's outcome (``recorded``, ``already-complete``, ``refused``) instead.

Errors are resolver errors with one line: ``ServiceClient`` raises ServiceError with the HTTP
status and the service's own line (404 unknown batch or item, 400 unusable, 401 token refused),
ServiceUnavailableError when the service cannot be reached or cannot reach its store;
``StoreClient`` raises what the store raises (UnknownBatchError, UnknownItemError, ...).

``ServiceClient`` keeps one HTTP connection per thread (keep-alive), so it may be shared by the
threads of a service; it uses the standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from . import reporting
from .errors import NotAwaitingError, ServiceError, ServiceUnavailableError, UsageError
from .models import Identifiers
from .reporting import ItemResult, ReportKind
from .store.base import GraphStore
from .text import clip

__all__ = ["ServiceClient", "StoreClient"]

_PATHS: dict[str, str] = {"completion": "completions", "failure": "failures"}


class _Client:
    """The methods both clients share, written over ``report``."""

    def report(self, batch_id: str, kind: ReportKind, items: Iterable[Mapping[str, Any]]) -> list[ItemResult]:
        raise NotImplementedError

    def complete(self, batch_id: str, object_id: str, identifier_ids: Identifiers) -> ItemResult:
        """The object was created with these identifierIds."""
        item = {"objectId": object_id, "identifierIds": dict(identifier_ids)}
        return self._one(batch_id, "completion", item)

    def complete_link(self, batch_id: str, link_id: str) -> ItemResult:
        """The link was created."""
        return self._one(batch_id, "completion", {"linkId": link_id})

    def fail(
        self,
        batch_id: str,
        object_id: str | None = None,
        link_id: str | None = None,
        *,
        reason: str,
        permanent: bool = True,
    ) -> ItemResult:
        """Creating the object (or the link) failed; ``permanent=False`` sends it out again."""
        if (object_id is None) == (link_id is None):
            raise UsageError("fail: give exactly one of object_id and link_id")
        key = "objectId" if object_id is not None else "linkId"
        item = {
            key: object_id if object_id is not None else link_id,
            "reason": reason,
            "permanent": permanent,
        }
        return self._one(batch_id, "failure", item)

    def _one(self, batch_id: str, kind: ReportKind, item: dict[str, Any]) -> ItemResult:
        [result] = self.report(batch_id, kind, [item])
        if result.outcome == "refused":
            raise NotAwaitingError(result.kind, result.item_id, result.status)
        return result

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        pass


class StoreClient(_Client):
    """Reports written straight to ``store``, as ``resolver complete``/``fail`` write them: the
    report that completes a batch makes its final transition, and its batch-complete stays owed
    for the next ``run`` or ``serve`` to deliver. No running worker is woken: a ``run`` notices
    within its poll interval (half a second)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def report(self, batch_id: str, kind: ReportKind, items: Iterable[Mapping[str, Any]]) -> list[ItemResult]:
        reports = reporting.parse_items([dict(i) for i in items], kind)
        results = reporting.record(self.store, batch_id, reports, kind)
        reporting.finish_if_done(self.store, batch_id)
        return results

    def status(self, batch_id: str, *, detail: bool = False) -> dict[str, Any]:
        """``status --json``'s object."""
        return self.store.status(batch_id, detail=detail).to_json()


class ServiceClient(_Client):
    """Reports sent to a ``resolver serve`` at ``url`` (its base: ``http://host:port``, or the
    part of a reply URL before ``/v1/``) with ``token`` (default: RESOLVER_API_TOKEN)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"service URL {url!r}: need http:// or https:// and a host")
        token = token if token is not None else os.environ.get("RESOLVER_API_TOKEN", "")
        if not token:
            raise UsageError("no token: pass one, or set RESOLVER_API_TOKEN (resolver serve --show-token)")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "resolver-client",
        }
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def report(self, batch_id: str, kind: ReportKind, items: Iterable[Mapping[str, Any]]) -> list[ItemResult]:
        """All ``items`` in one request: recorded together, or (one unknown) none of them."""
        data = [dict(i) for i in items]
        reporting.parse_items(data, kind)  # a malformed item: ReportError, and nothing sent
        if not data:
            return []
        answer = self._request("POST", f"/v1/batches/{_quote(batch_id)}/{_PATHS[kind]}", data)
        return [_result(r) for r in answer["results"]]

    def status(self, batch_id: str, *, detail: bool = False) -> dict[str, Any]:
        """``status --json``'s object, as ``GET /v1/batches/{batchId}`` answers it."""
        query = "?detail=true" if detail else ""
        answer: dict[str, Any] = self._request("GET", f"/v1/batches/{_quote(batch_id)}{query}")
        return answer

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    # -- HTTP -----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                conn.request(method, self._prefix + path, body=payload, headers=self._headers)
                response = conn.getresponse()
                status, raw = response.status, response.read()
                if response.will_close:
                    self._drop(conn)
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                # a kept-alive connection the server closed meanwhile: once more on a new one
                # (a report is idempotent: recorded twice, it is 'already-complete' the second time)
                if reused and attempt == 1:
                    continue
                raise ServiceUnavailableError(
                    f"{method} {self.url}{path}: {exc or type(exc).__name__}", 0
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise ServiceUnavailableError(
                    f"cannot reach resolver serve at {self.url}: {exc or type(exc).__name__}", 0
                ) from None
        return _answer(status, raw)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self.timeout)
        self._local.conn = conn
        with self._lock:
            self._opened.append(conn)
        return conn, False

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._opened:
                self._opened.remove(conn)


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")  # one path segment, '/' included


def _answer(status: int, raw: bytes) -> Any:
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    if 200 <= status < 300 and data is not None:
        return data
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        message = data["error"]
    else:
        message = f"HTTP {status}: {clip(raw.decode(errors='replace').strip()) or 'no body'}"
    if status == 503:
        raise ServiceUnavailableError(message, status)
    raise ServiceError(message, status)


def _result(data: Mapping[str, Any]) -> ItemResult:
    if "objectId" in data:
        return ItemResult("object", data["objectId"], data["outcome"], data["status"])
    return ItemResult("link", data["linkId"], data["outcome"], data["status"])
