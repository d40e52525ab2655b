"""``manual``: dispatch only. The adapter for services that report back later, from other
processes, through ``resolver complete``/``fail``."""

from __future__ import annotations

from ..models import Message
from .base import Accepted, Created, Result

__all__ = ["ManualAdapter"]


class ManualAdapter:
    """Dispatches only: completions come from ``resolver complete``/``fail`` in other processes."""

    name = "manual"
    inline = True

    def send(self, message: Message) -> Result:
        # creates are the other processes' to answer; the batch-complete notice is delivered by
        # the run writing it to its dispatch log
        return Created() if message["kind"] == "batch-complete" else Accepted()

    def close(self) -> None:
        pass
