"""Graph stores: Neo4j for real work, networkx in memory for one-process runs and as an oracle."""

from __future__ import annotations

from .base import Finish, GraphStore, ItemKind, Progress
from .memory import MemoryStore

__all__ = ["Finish", "GraphStore", "ItemKind", "MemoryStore", "Progress"]
