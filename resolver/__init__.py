"""resolver: resolve the dependencies of batch imports on a Neo4j graph.

Load a batch, validate it, then dispatch ready objects and links to external services and
record their completions until the batch is complete::

    from resolver import MemoryStore, SimulateAdapter, load_batch, resolve

    store = MemoryStore()
    batch = load_batch("examples/catalog.json")
    store.load(batch)
    assert store.validate(batch.batchId) == []
    result = resolve(store, batch.batchId, SimulateAdapter())
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from .adapters import Accepted, Adapter, Created, Failed, ManualAdapter, SimulateAdapter, make_adapter
from .batchfile.loader import load_batch, read_batch
from .client import ServiceClient, StoreClient
from .engine import Answer, Engine, RetryPolicy, RunResult, resolve
from .errors import (
    AdapterError,
    BatchExistsError,
    BatchStateError,
    InputError,
    NotAwaitingError,
    QueryError,
    ResolverError,
    ServiceError,
    ServiceUnavailableError,
    StoreUnavailableError,
    UnknownBatchError,
    UnknownItemError,
    UsageError,
)
from .models import Batch, BatchStatus, Claim, LinkSpec, ObjectSpec, Outcome, ReferenceSpec
from .reporting import ItemResult
from .store import GraphStore, Progress

if TYPE_CHECKING:
    from .store.memory import MemoryStore

__all__ = [
    "Accepted",
    "Adapter",
    "AdapterError",
    "Answer",
    "Batch",
    "BatchExistsError",
    "BatchStateError",
    "BatchStatus",
    "Claim",
    "Created",
    "Engine",
    "Failed",
    "GraphStore",
    "InputError",
    "ItemResult",
    "LinkSpec",
    "ManualAdapter",
    "MemoryStore",
    "NotAwaitingError",
    "ObjectSpec",
    "Outcome",
    "Progress",
    "QueryError",
    "ReferenceSpec",
    "ResolverError",
    "RetryPolicy",
    "RunResult",
    "ServiceClient",
    "ServiceError",
    "ServiceUnavailableError",
    "SimulateAdapter",
    "StoreClient",
    "StoreUnavailableError",
    "UnknownBatchError",
    "UnknownItemError",
    "UsageError",
    "__version__",
    "load_batch",
    "make_adapter",
    "read_batch",
    "resolve",
]


def __getattr__(name: str) -> Any:
    # on first use: networkx (20 MiB) stays out of a process that works on Neo4j
    if name == "MemoryStore":
        from .store.memory import MemoryStore

        return MemoryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
