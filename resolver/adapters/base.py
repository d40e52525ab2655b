"""The one-method interface between the engine and an external service.

``send`` gets a create message and answers with what happened: ``Created`` (with the new
object's identifierIds), ``Accepted`` (the service will report later through
``resolver complete``/``fail``), or ``Failed`` (``permanent`` False means worth retrying).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..models import CreateLink, CreateObject, Identifiers

__all__ = ["Accepted", "Adapter", "Created", "Failed", "Result"]


@dataclass(frozen=True)
class Created:
    identifierIds: Identifiers | None = None  # None for links


@dataclass(frozen=True)
class Accepted:
    pass


@dataclass(frozen=True)
class Failed:
    reason: str
    permanent: bool = False


Result = Created | Accepted | Failed


class Adapter(Protocol):
    name: str
    #: True when ``send`` returns at once without I/O, so the engine calls it inline
    inline: bool

    def send(self, message: CreateObject | CreateLink) -> Result: ...

    def close(self) -> None: ...
