"""The interface the engine and the CLI talk to; Neo4j and networkx implement it side by side.

Item lifecycle (objects and links alike)::

    waiting --(dependent parents / both ends complete)--> ready --claim--> creating
    creating --complete--> complete        creating --fail--> failed  (dependents: blocked)

Every transition is guarded by the item's current status, so repeating one changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ..models import Batch, BatchStatus, Claim, Identifiers, Outcome, ValidationIssue

if TYPE_CHECKING:
    from ..plan import LoadPlan

__all__ = ["ACTIVE", "TERMINAL", "Finish", "GraphStore", "ItemKind", "Progress"]

ItemKind = Literal["object", "link"]
ACTIVE = ("waiting", "ready", "creating")
TERMINAL = ("complete", "failed", "blocked")


@dataclass(frozen=True)
class Progress:
    ready: int
    creating: int
    waiting: int

    @property
    def unfinished(self) -> int:
        return self.ready + self.creating + self.waiting


@dataclass(frozen=True)
class Finish:
    """The batch reached a final status in this call (so its caller emits batch-complete)."""

    status: str


class GraphStore(Protocol):
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
        self, batch: Batch | LoadPlan, *, replace: bool = False, places: Mapping[int, str] | None = None
    ) -> None:
        """Store the batch (or a file's plan, read chunk by chunk) whole or not at all;
        BatchExistsError unless ``replace``."""
        ...

    def validate(self, batch_id: str) -> list[ValidationIssue]:
        """Run every check on the stored batch, keep the errors on it, status 'error' if any."""
        ...

    def delete(self, batch_id: str) -> bool: ...

    # -- processing -----------------------------------------------------------------------
    def start(self, batch_id: str) -> str:
        """Move a valid batch to 'processing'; returns the batch status after the call."""
        ...

    def claim(self, batch_id: str, *, worker: str, limit: int, lease_seconds: float) -> list[Claim]:
        """Take up to ``limit`` ready items, objects first; each is then 'creating'."""
        ...

    def reclaim_expired(self, batch_id: str, *, now: float) -> int:
        """Put items whose lease ran out back to 'ready'; returns how many."""
        ...

    def renew(self, batch_id: str, *, worker: str, lease_seconds: float) -> int:
        """Extend the leases this worker holds (it is alive and still working on them)."""
        ...

    def accept(self, batch_id: str, items: Sequence[tuple[ItemKind, str]]) -> None:
        """The service took these and will report later: their lease no longer expires."""
        ...

    def complete_objects(self, batch_id: str, items: Sequence[tuple[str, Identifiers]]) -> list[Outcome]: ...

    def complete_links(self, batch_id: str, link_ids: Sequence[str]) -> list[Outcome]: ...

    def fail(self, batch_id: str, kind: ItemKind, item_id: str, reason: str) -> Outcome:
        """Mark a creating item failed; block what depends on it."""
        ...

    def progress(self, batch_id: str) -> Progress: ...

    def finish(self, batch_id: str) -> Finish | None:
        """If nothing is left to do, move the batch to 'complete' or 'failed', once."""
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
