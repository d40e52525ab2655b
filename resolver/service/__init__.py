"""``resolver serve``: the HTTP service (docs/interface.md, "Service"). Batches are submitted and
run in this process, services report what they created, and a report wakes its batch's runner
at once. The modules:

- ``app``: the FastAPI app factory and its routes
- ``runs``: the batch runners, one thread per running batch, all on one store and one adapter
- ``server``: ``serve``, on uvicorn, with the socket bound first and a graceful stop
- ``reply``: the adapter wrapper that puts the ``reply`` URLs in create messages
- ``auth``: the bearer token (RESOLVER_API_TOKEN, or a generated 0600 file) and its check
- ``limits``: the request body limit (413)
- ``paths``: ids with ``/`` in request paths
- ``answers``: JSON answers, and every error as ``{"error": "<one line>"}`` with its status
"""

from __future__ import annotations

from .app import create_app
from .auth import Token, default_home, load_token
from .limits import DEFAULT_MAX_BODY
from .reply import ReplyAdapter, reply_urls
from .runs import Runners, RunOptions
from .server import serve

__all__ = [
    "DEFAULT_MAX_BODY",
    "ReplyAdapter",
    "RunOptions",
    "Runners",
    "Token",
    "create_app",
    "default_home",
    "load_token",
    "reply_urls",
    "serve",
]
