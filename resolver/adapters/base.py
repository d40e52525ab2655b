"""The one-method interface between the engine and an external service.

``send`` gets a message and answers with what happened: ``Created`` (with the new object's
identifierIds), ``Accepted`` (the service will report later through ``resolver complete``/``fail``
or the service's endpoints), or ``Failed`` (``permanent`` False means worth retrying). The
batch-complete notice comes through ``send`` too; any answer but ``Failed`` means delivered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..models import Identifiers, Message
from ..reporting import ItemResult, Report, ReportKind

__all__ = [
    "Accepted",
    "Adapter",
    "AnswerSource",
    "BulkSender",
    "Created",
    "Failed",
    "FinalAnswers",
    "ReportSink",
    "Result",
    "safe_send",
]


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


#: where an adapter hands the answers its services send back later: (batchId, kind, reports).
#: It records them (``reporting.record``) and wakes the batch's run. It raises a UsageError for
#: answers that cannot be used (log them, do not redeliver them) and StoreUnavailableError when
#: nothing could be recorded (redeliver later). It may return the record's results, one per
#: report, so the adapter can tell refused items (not awaiting an answer) from recorded ones.
ReportSink = Callable[[str, ReportKind, list[Report]], Sequence[ItemResult] | None]


@runtime_checkable
class BulkSender(Protocol):
    """An adapter that takes a whole round of creates in one call (a broker: one burst of
    publishes, then their acknowledgements), one result per message, in order. The engine
    calls it on its own thread, instead of ``send`` once per message on a pool."""

    def send_many(self, messages: Sequence[Message]) -> list[Result]: ...


@runtime_checkable
class FinalAnswers(Protocol):
    """An inline adapter whose every answer is final, ``Created`` or ``Failed`` and never
    ``Accepted``: nothing of its items is left for a report to complete. A run on a store that
    can walk (``resolver.walk``) then holds the whole batch and writes only final states."""

    final_answers: bool


@runtime_checkable
class AnswerSource(Protocol):
    """An adapter whose services answer through it later, such as a message broker: ``send``
    hands a create over and answers ``Accepted``; the answers come back through ``listen``."""

    def listen(self, sink: ReportSink) -> None:
        """Start handing answers to ``sink`` (again: a no-op), until ``close``."""
        ...


def safe_send(adapter: Adapter, message: Message) -> Result:
    """``send``, where an adapter that raises has failed this item, transiently: it is a bug or
    an outage, not an answer, and a run must go on for the other items."""
    try:
        return adapter.send(message)
    except Exception as exc:
        return Failed(f"{type(exc).__name__}: {exc}", permanent=False)
