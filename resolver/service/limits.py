"""The request body limit (``resolver serve --max-body``), as ASGI middleware.

A body is refused with 413 before any of it is used: at once when its ``Content-Length`` says it
is too big, else as soon as the bytes streamed in (chunked uploads carry no length) pass the
limit. Every route reads its body after this check has run on each chunk, so an oversized body
changes nothing: a batch document is spooled to a temporary file that is thrown away, a report
is parsed only once it has arrived whole.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import UsageError
from .answers import error_response

__all__ = ["DEFAULT_MAX_BODY", "BodyLimit", "BodyTooLargeError"]

#: a batch document of a few hundred thousand objects, with room to spare
DEFAULT_MAX_BODY = 256 * 1024 * 1024


class BodyTooLargeError(UsageError):
    """A request body over the limit (HTTP 413); nothing of it was used."""

    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"request body is larger than the limit of {limit:,} bytes (resolver serve --max-body)"
        )
        self.limit = limit


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 ``{"error": ...}``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLargeError(self.limit)
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await error_response(413, str(too_large))(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise too_large
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLargeError:
            if started:
                raise
            await error_response(413, str(too_large))(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server itself refuses a bad length before we see it
    return None
