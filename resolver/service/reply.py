"""Where to report: every create message ``resolver serve`` dispatches carries a ``reply``
object naming the endpoints of this service that take the item's answer::

    "reply": {"url": "<base>/v1/batches/<batchId>/completions",
              "failuresUrl": "<base>/v1/batches/<batchId>/failures"}

so a service that answered 202 (accepted, reports later) knows where to send it, with the same
token. ``<base>`` is ``--public-url`` when given (clients reach the service by another name:
a proxy, a container's published port), else the address the service is bound to. The batch
id is one percent-encoded path segment. The batch-complete notice goes out as it is.
"""

from __future__ import annotations

from typing import cast

from ..adapters.base import Adapter, Result
from ..models import Message
from .paths import quote_id

__all__ = ["ReplyAdapter", "reply_urls"]


def reply_urls(base: str, batch_id: str) -> dict[str, str]:
    root = f"{base.rstrip('/')}/v1/batches/{quote_id(batch_id)}"
    return {"url": f"{root}/completions", "failuresUrl": f"{root}/failures"}


class ReplyAdapter:
    """Wraps the adapter ``--adapter`` built: the same service, the messages with ``reply``."""

    def __init__(self, inner: Adapter, base: str) -> None:
        self.inner = inner
        self.base = base
        self.name = inner.name
        self.inline = inner.inline
        self._urls: dict[str, dict[str, str]] = {}  # per batch: built once, not per message

    def send(self, message: Message) -> Result:
        if message["kind"] == "batch-complete":
            return self.inner.send(message)
        batch_id = message["batchId"]
        urls = self._urls.get(batch_id)
        if urls is None:
            urls = self._urls[batch_id] = reply_urls(self.base, batch_id)
        # a copy: the engine's message is what the dispatch log records (section 4's shape)
        return self.inner.send(cast(Message, {**message, "reply": dict(urls)}))

    def close(self) -> None:
        self.inner.close()
