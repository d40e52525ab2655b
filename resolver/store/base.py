"""The interface the engine and the CLI talk to; Neo4j and networkx implement it side by side.

Item lifecycle (objects and links alike)::

    waiting --(dependent parents / both ends complete)--> ready --claim--> creating
    creating --complete--> complete        creating --fail--> failed  (dependents: blocked)

Every transition is guarded by the item's current status, so repeating one changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BatchBusyError
from ..models import (
    Batch,
    BatchComplete,
    BatchStatus,
    Claim,
    Identifiers,
    ItemKind,
    Outcome,
    ValidationIssue,
)

__all__ = [
    "ACTIVE",
    "REPORTED_ATTEMPTS",
    "TERMINAL",
    "BatchHead",
    "Failure",
    "Finish",
    "GraphReader",
    "GraphStore",
    "ItemKind",
    "Progress",
    "Started",
    "in_flight_error",
]

if TYPE_CHECKING:
    from ..batchfile.plan import LoadPlan

ACTIVE = ("waiting", "ready", "creating")
TERMINAL = ("complete", "failed", "blocked")


@dataclass(frozen=True)
class Progress:
    ready: int
    creating: int
    waiting: int
    walked: bool = False  # a run walks the batch (resolver.walk): what is ready is its own

    @property
    def unfinished(self) -> int:
        return self.ready + self.creating + self.waiting


@dataclass(frozen=True)
class Started:
    status: str
    generation: str


#: a failure report: kind, item, reason, permanent
Failure = tuple[ItemKind, str, str, bool]
#: how often a transient failure reported from outside a run sends an item out again
REPORTED_ATTEMPTS = 5


@dataclass(frozen=True)
class Finish:
    """The batch reached a final status in this call (so its caller emits batch-complete)."""

    status: str


@dataclass(frozen=True)
class BatchHead:
    status: str
    errors: list[ValidationIssue]
    object_count: int


Row = dict[str, Any]


class GraphReader(Protocol):
    """The narrow read side that ``resolver.views`` walks (explain, the graph exports). Each call
    touches what it names and its neighbours, never the whole batch; everything is read in one
    snapshot-like unit (one read transaction, or under the store's lock)."""

    def head(self) -> BatchHead:
        """The batch itself; UnknownBatchError when there is none (or it is still loading)."""
        ...

    def object(self, object_id: str) -> Row | None:
        """objectType, status, identifierIds, existing, unmet, attempt, blockedBy, reason,
        leaseUntil and degree (how many links touch it); None when there is no such object."""
        ...

    def briefs(self, ids: Sequence[str]) -> list[Row]:
        """objectId, status, attempt, reason, blockedBy, accepted of each object that exists."""
        ...

    def parents(self, ids: Sequence[str], limit: int) -> list[Row]:
        """The dependent parents of ``ids`` that are not complete, as briefs with ``childId``."""
        ...

    def links(self, object_id: str, limit: int) -> list[Row]:
        """The object's links: linkId, linkTag, dependent, separate, status, reason, blockedBy,
        child and parent ({objectId, status}); its parents' side first, then its children's,
        each side in linkId order and capped at ``limit``."""
        ...

    def objects(self, limit: int) -> list[Row]:
        """Up to ``limit`` objects of the batch (objectId, objectType, status), in no order."""
        ...

    def neighbours(self, ids: Sequence[str], seen: Sequence[str], limit: int) -> list[Row]:
        """Objects linked to ``ids`` either way and not in ``seen``, each once, up to ``limit``."""
        ...

    def edges(self, ids: Sequence[str], limit: int) -> list[Row]:
        """The links among ``ids``: linkId, linkTag, linkType, child, parent, status."""
        ...


class GraphStore(Protocol):
    """Batch lifecycle (every transition a guarded write; docs/interface.md, "Processing")::

        loading --load--> validating --validate--> loaded | error
        loaded --start--> processing --finish--> complete | failed   (batch-complete owed)

    A batch is ``loading``/``validating`` only while one load owns it; any other command sees
    BatchLoadingError, and a load that died is taken over by the next load of the id. Each load
    gives the batch a new generation: a run names the one it started (``claim``, ``finish``), and
    a run's own writes name its worker (``complete_*``, ``fail_many``, ``accept``), so a worker of
    a replaced batch can change nothing of the new one. Reports from outside a run pass no worker.
    """

    name: str
    # True when two writes at once finish sooner than one after the other (a server with cores
    # of its own); the engine then records one round's answers while it claims the next.
    parallel_writes: bool

    def close(self) -> None: ...

    def describe(self) -> str:
        """Where the data lives, for logs (e.g. 'neo4j 5.26.30 at bolt://...')."""
        ...

    # -- loading --------------------------------------------------------------------------
    def load(
        self,
        batch: Batch | LoadPlan,
        *,
        replace: bool = False,
        force: bool = False,
        places: Mapping[int, str] | None = None,
    ) -> None:
        """Store the batch (or a file's plan, read chunk by chunk) whole or not at all, leaving
        it 'validating' for ``validate``. BatchExistsError unless ``replace``; BatchBusyError
        when another process is loading the id, or (without ``force``) when the batch replaced
        has items in flight."""
        ...

    def validate(self, batch_id: str) -> list[ValidationIssue]:
        """Run every check on the stored batch and keep the errors on it: 'loaded' when there
        are none, else 'error'. Again on a loaded batch, it re-checks; it never moves a batch
        that is being processed or finished."""
        ...

    def delete(self, batch_id: str) -> bool: ...

    # -- processing -----------------------------------------------------------------------
    def start(self, batch_id: str) -> Started:
        """Move a valid batch to 'processing'; the batch status after the call, and the
        generation the caller works on."""
        ...

    def claim(
        self,
        batch_id: str,
        *,
        worker: str,
        limit: int,
        lease_seconds: float,
        generation: str | None = None,
    ) -> list[Claim]:
        """Take up to ``limit`` ready items, objects first; each is then 'creating'.
        BatchReplacedError when ``generation`` is no longer the batch's."""
        ...

    def reclaim_expired(self, batch_id: str, *, now: float) -> int:
        """Put items whose lease ran out back to 'ready'; returns how many."""
        ...

    def renew(self, batch_id: str, *, worker: str, lease_seconds: float) -> int:
        """Extend the leases this worker holds (it is alive and still working on them)."""
        ...

    def release(self, batch_id: str, *, worker: str) -> int:
        """Give this worker's leased claims back ('ready'), for a run that stops; not the ones a
        service accepted. Returns how many."""
        ...

    def lease_holders(self, batch_id: str) -> list[str]:
        """The workers holding leased claims in the batch (not the items a service accepted)."""
        ...

    def accept(
        self, batch_id: str, items: Sequence[tuple[ItemKind, str]], *, worker: str | None = None
    ) -> None:
        """The service took these and will report later: their lease no longer expires."""
        ...

    def complete_objects(
        self, batch_id: str, items: Sequence[tuple[str, Identifiers]], *, worker: str | None = None
    ) -> list[Outcome]: ...

    def complete_links(
        self, batch_id: str, link_ids: Sequence[str], *, worker: str | None = None
    ) -> list[Outcome]: ...

    def fail(self, batch_id: str, kind: ItemKind, item_id: str, reason: str) -> Outcome:
        """Mark a creating item failed; block what depends on it."""
        ...

    def fail_many(
        self, batch_id: str, items: Sequence[Failure], *, worker: str | None = None
    ) -> list[Outcome]:
        """``fail`` for many items in one transaction. A transient failure (``permanent``
        False) puts the item back to 'ready' for another dispatch, until it has been tried
        REPORTED_ATTEMPTS times."""
        ...

    def missing(self, batch_id: str, items: Sequence[tuple[ItemKind, str]]) -> list[tuple[ItemKind, str]]:
        """The named items that are not in the batch."""
        ...

    def progress(self, batch_id: str) -> Progress: ...

    def finish(self, batch_id: str, generation: str | None = None) -> Finish | None:
        """If nothing is left to do, move the batch to 'complete' or 'failed', once, and owe
        its batch-complete message. BatchReplacedError when ``generation`` is not current."""
        ...

    def owed(self, batch_id: str) -> BatchComplete | None:
        """The batch-complete message the batch owes, if it does."""
        ...

    def delivered(self, batch_id: str) -> bool:
        """The owed batch-complete was delivered; False when nothing was owed (any more)."""
        ...

    def retry(self, batch_id: str, object_id: str | None = None) -> int:
        """Put failed and blocked items back to waiting/ready; returns how many."""
        ...

    # -- reading --------------------------------------------------------------------------
    def status(self, batch_id: str, *, detail: bool = False) -> BatchStatus: ...

    def batch_status(self, batch_id: str) -> str:
        """The batch's status alone (``status`` counts the whole batch); UnknownBatchError."""
        ...

    def batch_ids(self) -> list[str]: ...

    def reader(self, batch_id: str) -> AbstractContextManager[GraphReader]:
        """The read side ``resolver.views`` walks, open for the ``with`` block."""
        ...


def in_flight_error(batch_id: str, count: int) -> BatchBusyError:
    """Why a replace is refused while a batch has items out with their services: the same words
    from every store."""
    return BatchBusyError(
        batch_id,
        f"is being processed: {count} item(s) are in flight (dispatched, awaiting their service); "
        "--force replaces it anyway (their answers will then change nothing)",
    )
