"""What a store offers a walk (``resolver.walk``): one run leasing a whole batch, walking it in
memory and writing only final states. The Neo4j store implements it (``neo4j_walk``); the
memory store does not need it (its per-item protocol costs nothing).

A walk's items are named by handles, small integers of the store's own (Neo4j: node and
relationship ids), so a million of them fit in arrays: no Python object per item.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..models import Claim

__all__ = ["BAD", "COMPLETE", "OPEN", "Links", "Topology", "WalkRow", "WalkStore"]

#: an item's state in a topology: still to do, complete, failed or blocked
OPEN, COMPLETE, BAD = 0, 1, 2

#: a final state to write: handle, status, value (identifierIds text, reason or root), unmet
WalkRow = tuple[int, str, str | None, int]


def _ints() -> array[int]:
    return array("i")


def _handles() -> array[int]:
    return array("q")


@dataclass
class Links:
    """Links as parallel arrays: child and parent positions, handle (-1: a plain dependent link,
    which has no status of its own), state."""

    child: array[int] = field(default_factory=_ints)
    parent: array[int] = field(default_factory=_ints)
    handle: array[int] = field(default_factory=_handles)
    state: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.child)


@dataclass
class Topology:
    """A batch as a walk needs it: objects by position (``ord``, 0..n-1), with their handles and
    states, and its dependent and independent links."""

    handle: array[int]
    state: bytearray
    dependent: Links
    independent: Links


@runtime_checkable
class WalkStore(Protocol):
    def walk_begin(self, batch_id: str, *, worker: str, lease_seconds: float, generation: str | None) -> bool:
        """Lease the whole batch to ``worker``: False when it is not processing in
        ``generation``, another run walks it, or anything is out with a service."""
        ...

    def walk_topology(self, batch_id: str) -> Topology: ...

    def walk_claims(
        self,
        batch_id: str,
        *,
        worker: str,
        generation: str | None,
        objects: Sequence[int],
        links: Sequence[int],
    ) -> list[Claim] | None:
        """The claims (messages) of these handles, objects first, nothing written; None when the
        walk was taken over, BatchReplacedError when the batch was replaced."""
        ...

    def walk_write(
        self,
        batch_id: str,
        *,
        worker: str,
        generation: str | None,
        objects: Sequence[WalkRow],
        links: Sequence[WalkRow],
    ) -> bool:
        """Write final states in one transaction; False (nothing written) when the walk was
        taken over; BatchReplacedError when the batch was replaced."""
        ...

    def renew(self, batch_id: str, *, worker: str, lease_seconds: float) -> int:
        """Extend the worker's leases, its walk's among them (``GraphStore.renew``)."""
        ...

    def walk_end(self, batch_id: str, *, worker: str) -> None:
        """Give the walk back: what it left open gets its readiness back from its parents."""
        ...
