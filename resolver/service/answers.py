"""What the service answers: JSON bodies, and every error as ``{"error": "<one line>"}`` with the
status its kind calls for. No traceback ever reaches a client: an exception that is not a
``ResolverError`` is a bug, logged here with its traceback and answered 500 in one line.

======================================================  ======
error                                                   status
======================================================  ======
malformed JSON, an unusable batch or report item         400
missing or wrong token                                    401
unknown batch, object or link (or endpoint)              404
id exists, batch busy/loading/replaced, not awaiting     409
request body over ``--max-body``                         413
a query parameter of the wrong type                      422
the graph store cannot be reached                        503
a bug, or a server-side fault (bad query, adapter)       500
======================================================  ======
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    BatchBusyError,
    BatchExistsError,
    BatchLoadingError,
    BatchReplacedError,
    BatchStateError,
    NotAwaitingError,
    ResolverError,
    StoreUnavailableError,
    UnknownBatchError,
    UnknownItemError,
    UsageError,
)
from ..text import clip

__all__ = ["CatchAll", "error_response", "install_handlers", "json_response", "status_for"]

log = logging.getLogger("resolver.service")

# most specific first: BatchLoadingError is an UnknownBatchError, every one here a ResolverError
_STATUS: tuple[tuple[type[ResolverError], int], ...] = (
    (BatchLoadingError, 409),  # it exists, its load is not done: try again
    (UnknownBatchError, 404),
    (UnknownItemError, 404),
    (BatchExistsError, 409),
    (BatchBusyError, 409),
    (BatchReplacedError, 409),
    (NotAwaitingError, 409),
    (BatchStateError, 409),
    (StoreUnavailableError, 503),
    (UsageError, 400),  # unusable input: InputError, ReportError, ...
)


def status_for(exc: ResolverError) -> int:
    # an error of the service's own (the body limit's) names its status itself
    own: int | None = getattr(exc, "http_status", None)
    if own is not None:
        return own
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500  # QueryError, AdapterError...: the server's fault, not the request's


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON as the CLI prints it (ids kept exact, non-ASCII as is); values JSON cannot hold
    (a timestamp in an explanation) become their text, as ``--json`` does."""
    body = json.dumps(data, ensure_ascii=False, default=str).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": one_line(message)}, status, headers)


def one_line(message: str) -> str:
    return " ".join(message.split()) or "error"


def message_for(exc: ResolverError) -> str:
    if isinstance(exc, BatchExistsError):
        return f"batch {exc.batch_id!r} already exists"  # not the CLI's hint about --replace
    return str(exc)


def install_handlers(app: FastAPI) -> None:
    """Resolver errors by kind, the framework's own (404 route, 405, 422) in the same shape."""

    async def resolver_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ResolverError)
        status = status_for(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, message_for(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        return error_response(exc.status_code, detail, dict(exc.headers or {}))

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        problem = clip(str(first.get("msg", "invalid request")))
        return error_response(422, f"{where}: {problem}" if where else problem)

    app.add_exception_handler(ResolverError, resolver_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)


class CatchAll:
    """The outermost layer: an exception nothing else answered is logged with its traceback
    (server-side only) and answered 500 in one line, if no answer has started yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                answer = error_response(500, "internal error in resolver serve (its log has the details)")
                await answer(scope, receive, send)
