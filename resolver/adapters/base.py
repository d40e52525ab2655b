"""The one-method interface between the engine and an external service.

``send`` gets a message and answers with what happened: ``Created`` (with the new object's
identifierIds), ``Accepted`` (the service will report later through ``resolver complete``/``fail``
or the service's endpoints), or ``Failed`` (``permanent`` False means worth retrying). The
batch-complete notice comes through ``send`` too; any answer but ``Failed`` means delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..models import Identifiers, Message

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

    def send(self, message: Message) -> Result: ...

    def close(self) -> None: ...
