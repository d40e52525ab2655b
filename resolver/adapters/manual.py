"""``manual``: dispatch only. The adapter for services that report back later, from other
processes, through ``resolver complete``/``fail``."""

from __future__ import annotations

from ..models import CreateLink, CreateObject
from .base import Accepted, Result

__all__ = ["ManualAdapter"]


class ManualAdapter:
    """Dispatches only: completions come from ``resolver complete``/``fail`` in other processes."""

    name = "manual"
    inline = True

    def send(self, message: CreateObject | CreateLink) -> Result:
        return Accepted()

    def close(self) -> None:
        pass
