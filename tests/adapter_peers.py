"""Services the python adapter calls in tests (``python:tests.adapter_peers:<function>``).

Every function records the message it got in ``CALLS`` so tests can check what was sent.
"""

from __future__ import annotations

import threading
from typing import Any

from resolver.adapters.base import Accepted
from resolver.adapters.errors import PermanentError

CALLS: list[dict[str, Any]] = []
_lock = threading.Lock()

not_callable = 42


def _record(message: dict[str, Any]) -> None:
    with _lock:
        CALLS.append(message)


def reset() -> None:
    with _lock:
        CALLS.clear()


def create(message: dict[str, Any]) -> dict[str, Any] | None:
    """Creates objects as ``{"id": "py-<objectId>", "version": 1}``; links return None."""
    _record(message)
    if message["kind"] == "create-object":
        return {"id": f"py-{message['objectId']}", "version": 1}
    return None


def mutate(message: dict[str, Any]) -> dict[str, Any]:
    """Scribbles on the message it got, then creates as ``create`` does."""
    _record(message)
    message["fields"]["scribbled"] = True
    message["parents"].clear()
    return {"id": f"py-{message['objectId']}"}


def accept(message: dict[str, Any]) -> str:
    _record(message)
    return "accepted"


def accept_instance(message: dict[str, Any]) -> Accepted:
    _record(message)
    return Accepted()


def reject(message: dict[str, Any]) -> None:
    _record(message)
    raise PermanentError(f"category {message.get('objectId')} is not allowed")


def outage(message: dict[str, Any]) -> None:
    _record(message)
    raise ConnectionError("service down")


def nothing(message: dict[str, Any]) -> None:
    _record(message)
    return None


def nested(message: dict[str, Any]) -> dict[str, Any]:
    _record(message)
    return {"id": {"deep": 1}}


def empty(message: dict[str, Any]) -> dict[str, Any]:
    _record(message)
    return {}


def number(message: dict[str, Any]) -> int:
    _record(message)
    return 7
