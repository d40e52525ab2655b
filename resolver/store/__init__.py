"""Graph stores: Neo4j for real work, networkx in memory for one-process runs and as an oracle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Finish, GraphStore, ItemKind, Progress

if TYPE_CHECKING:
    from .memory import MemoryStore

__all__ = ["Finish", "GraphStore", "ItemKind", "MemoryStore", "Progress"]


def __getattr__(name: str) -> Any:
    # on first use: networkx (20 MiB) stays out of a process that works on Neo4j
    if name == "MemoryStore":
        from .memory import MemoryStore

        return MemoryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
