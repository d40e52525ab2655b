"""The memory store's state of one batch: a networkx multigraph (node = objectId, edge key =
linkId, both carrying their status), the ready queues, and counts by status kept as items
move, so progress never scans the batch."""

from __future__ import annotations

import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from ..models import ValidationIssue

__all__ = ["BatchGraph"]


@dataclass
class BatchGraph:
    batch_id: str
    status: str
    graph: Any  # nx.MultiDiGraph: node = objectId, edge key = linkId
    link_ends: dict[str, tuple[str, str]]
    link_data: dict[str, dict[str, Any]]  # linkId -> the edge's data dict in the graph
    unresolved: list[dict[str, Any]]
    link_tags: dict[str, dict[str, Any]]
    references: dict[str, str]
    errors: list[ValidationIssue] = field(default_factory=list)
    ready_objects: deque[str] = field(default_factory=deque)
    ready_links: deque[str] = field(default_factory=deque)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    generation: str = field(default_factory=lambda: uuid.uuid4().hex)
    batch_complete: str | None = None  # the outbox: 'owed' | 'delivered' once finished
    finishes: int = 0
    # objectId -> the node's data dict in the graph: the run's hot paths look nodes up here,
    # without a call
    nodes: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.nodes = self.graph._node

    def link(self, link_id: str) -> dict[str, Any]:
        return self.link_data[link_id]

    def set_object(self, object_id: str, status: str) -> None:
        node = self.nodes[object_id]
        self.counts[("object", node["status"])] -= 1
        self.counts[("object", status)] += 1
        node["status"] = status
        if status == "ready":
            self.ready_objects.append(object_id)

    def set_link(self, link_id: str, status: str) -> None:
        edge = self.link_data[link_id]
        self.counts[("link", edge["status"])] -= 1
        self.counts[("link", status)] += 1
        edge["status"] = status
        if status == "ready":
            self.ready_links.append(link_id)
