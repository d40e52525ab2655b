"""Ids in request paths: any id, ``/`` included, travels as one percent-encoded path segment.

A batch id may hold ``/`` (``shop/spring``), and so may an object id. The server decodes the
path before routing, which would make ``/v1/batches/shop%2Fspring`` the path of batch ``shop``
with a route ``spring``. ``EscapedIds`` routes on the raw path instead: each segment decoded
whole, with ``%`` and ``/`` inside it written back escaped, so a route's ``{batchId}`` captures
exactly one segment and ``unescape`` turns it back into the id. ``quote_id`` makes such a
segment, for the reply URLs in create messages.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["EscapedIds", "quote_id", "unescape"]


def quote_id(value: str) -> str:
    """``value`` as one path segment (every reserved character encoded, ``/`` too)."""
    return quote(value, safe="")


def unescape(segment: str) -> str:
    """The id a route captured from a segment ``EscapedIds`` prepared."""
    return unquote(segment) if "%" in segment else segment


def _segment(raw: str) -> str:
    text = unquote(raw, errors="strict") if "%" in raw else raw
    return text.replace("%", "%25").replace("/", "%2F")


class EscapedIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw and b"%" in raw:
            try:
                segments = raw.decode("ascii").split("/")
                scope = {**scope, "path": "/".join(_segment(s) for s in segments)}
            except UnicodeDecodeError:
                pass  # not UTF-8 once decoded: left as the server read it, it names nothing here
        await self.app(scope, receive, send)
