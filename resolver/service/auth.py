"""The bearer token every request to ``resolver serve`` carries, and the middleware that checks it.

The token is ``RESOLVER_API_TOKEN`` when that is set; else one generated on first start
(``secrets.token_urlsafe(32)``) and kept in ``token`` (mode 0600) in the serve home: the folder
``RESOLVER_SERVE_HOME`` names, else ``.serve/`` in a source checkout, else
``~/.cache/resolver/serve`` (mode 0700), as the local servers keep their passwords.

The check runs before routing, so every path needs the token, unknown ones too, except
``OPEN_PATHS``: liveness, and the OpenAPI page and schema, which describe the API and hold no
data. A request without the right token is answered 401 before its body is read.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import UsageError
from ..local.process import file_lock, make_private, read_text, write_private
from .answers import error_response

__all__ = ["OPEN_PATHS", "Token", "TokenCheck", "default_home", "load_token"]

#: what answers without a token: liveness, and the API's own description
OPEN_PATHS = frozenset({"/v1/health", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
_CHECKOUT = Path(__file__).resolve().parents[2]  # the folder above the package, in a source checkout


@dataclass(frozen=True)
class Token:
    value: str
    source: str  # "RESOLVER_API_TOKEN", or the file it is kept in


def default_home() -> Path:
    """$RESOLVER_SERVE_HOME, else ``.serve`` in a source checkout, else the user's cache."""
    env = os.environ.get("RESOLVER_SERVE_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / ".serve"
    return Path.home() / ".cache" / "resolver" / "serve"


def load_token(home: Path | None = None) -> Token:
    """The token: RESOLVER_API_TOKEN, else the home's ``token`` file, made on first use."""
    env = os.environ.get("RESOLVER_API_TOKEN")
    if env is not None:
        if not env.strip():
            raise UsageError("RESOLVER_API_TOKEN is set but empty; unset it to use a generated token")
        return Token(env.strip(), "RESOLVER_API_TOKEN")
    home = home or default_home()
    path = home / "token"
    try:
        home.mkdir(parents=True, exist_ok=True)
        make_private(home)
        # two first starts at once must agree on one token
        with file_lock(home / "token.lock"):
            value = read_text(path)
            if not value:
                value = secrets.token_urlsafe(32)
                write_private(path, value + "\n")
    except OSError as exc:
        raise UsageError(f"cannot keep the API token in {path}: {exc.strerror or exc}") from None
    return Token(value, str(path))


class TokenCheck:
    """401 ``{"error": ...}`` for a request whose ``Authorization: Bearer`` is not the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        answer = error_response(401, problem, headers={"WWW-Authenticate": 'Bearer realm="resolver"'})
        await answer(scope, receive, send)

    def problem(self, scope: Scope) -> str | None:
        given = [value for name, value in scope.get("headers", ()) if name == b"authorization"]
        if not given:
            return "missing token: send Authorization: Bearer <token> (resolver serve --show-token)"
        scheme, _, credentials = given[0].partition(b" ")
        if scheme.lower() != b"bearer" or not credentials.strip():
            return "the Authorization header must be Bearer <token>"
        # constant time: how much of a guess matched must not show in how long the answer takes
        if not hmac.compare_digest(credentials.strip(), self.expected):
            return "wrong token"
        return None
