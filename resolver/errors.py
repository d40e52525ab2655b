"""The resolver's one error tree.

Every error the CLI can meet derives from ``ResolverError``; each carries the process exit
code that the contract assigns to it, so the CLI maps errors to exits in one place::

    ResolverError (1)
    +-- UsageError (2)                 the command line or a file is unusable
    |   +-- InputError (2)             a batch file is unusable; nothing was stored
    |   +-- BatchExistsError (2)       the batch id is taken and --replace was not given
    |   +-- UnknownBatchError (2)
    |   |   +-- BatchLoadingError (2)  the batch's load has not finished (or died)
    |   +-- BatchBusyError (2)         another process loads the id, or live work would be lost
    |   +-- UnknownItemError (2)       no such object or link in the batch
    +-- NotAwaitingError (1)           a completion for an item that is not in flight
    +-- BatchStateError (1)            the batch cannot be processed (status error/failed)
    +-- BatchReplacedError (2)         the batch a run worked on was replaced by another load
    +-- StoreUnavailableError (3)      the graph store cannot be reached or refused us
    +-- BrokerUnavailableError (3)     the message broker (NATS) cannot be reached or refused us
    +-- QueryError (1)                 a named query is missing or called with wrong parameters
    +-- AdapterError (2)               an adapter spec is unusable (not a failed create)
    +-- ServiceError (2, 1 for 5xx)    resolver serve answered a client's request with an error
    |   +-- ServiceUnavailableError (3)  it cannot be reached, or cannot reach its store (503)
    +-- LocalServerError (1)           a local development server cannot be installed or run
        +-- LocalNeo4jError (1)
        +-- LocalNatsError (1)
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "BatchBusyError",
    "BatchExistsError",
    "BatchLoadingError",
    "BatchReplacedError",
    "BatchStateError",
    "BrokerUnavailableError",
    "InputError",
    "LocalNatsError",
    "LocalNeo4jError",
    "LocalServerError",
    "NotAwaitingError",
    "QueryError",
    "ResolverError",
    "ServiceError",
    "ServiceUnavailableError",
    "StoreUnavailableError",
    "UnknownBatchError",
    "UnknownItemError",
    "UsageError",
]


class ResolverError(Exception):
    """Root of every error the resolver raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ResolverError):
    """The command line or its input cannot be used as given."""

    exit_code = 2


class InputError(UsageError):
    """A batch file is unusable. ``source`` names the file, ``place`` where in it."""

    def __init__(self, source: str, place: str, problem: str) -> None:
        where = f"{source}: {place}" if place else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.place = place
        self.problem = problem


class BatchExistsError(UsageError):
    """The batch id is already stored; ``load --replace`` overwrites it."""

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"batch {batch_id!r} already exists (use --replace to overwrite it)")
        self.batch_id = batch_id


class UnknownBatchError(UsageError):
    def __init__(self, batch_id: str) -> None:
        super().__init__(f"unknown batch {batch_id!r}")
        self.batch_id = batch_id


class BatchLoadingError(UnknownBatchError):
    """The batch's load has not finished: every command but the next load leaves it alone."""

    def __init__(self, batch_id: str, status: str, alive: bool) -> None:
        super().__init__(batch_id)
        if alive:
            self.message = f"batch {batch_id!r} is being loaded (status: {status}); try again once it is done"
        else:
            self.message = (
                f"batch {batch_id!r} has an unfinished load (status: {status}; its loader stopped); "
                "load it again"
            )
        self.status = status


class BatchBusyError(UsageError):
    """The id cannot be loaded now: another process is loading it, or live work would be lost."""

    def __init__(self, batch_id: str, why: str) -> None:
        super().__init__(f"batch {batch_id!r} {why}")
        self.batch_id = batch_id


class UnknownItemError(UsageError):
    def __init__(self, batch_id: str, kind: str, item_id: str) -> None:
        super().__init__(f"batch {batch_id!r} has no {kind} {item_id!r}")
        self.batch_id = batch_id
        self.kind = kind
        self.item_id = item_id


class NotAwaitingError(ResolverError):
    """A completion or failure was reported for an item that was not dispatched."""

    def __init__(self, kind: str, item_id: str, status: str) -> None:
        super().__init__(f"{kind} {item_id!r} is not awaiting completion (status: {status}); nothing changed")
        self.kind = kind
        self.item_id = item_id
        self.status = status


class BatchStateError(ResolverError):
    """The batch is in a state that does not allow what was asked."""


class BatchReplacedError(ResolverError):
    """Another load replaced the batch this run worked on: the run stops, and nothing it still
    holds can change the new batch."""

    exit_code = 2

    def __init__(self, batch_id: str) -> None:
        super().__init__(
            f"batch {batch_id!r} was replaced by another load while this run worked on it; "
            "this run stops (nothing of the new batch was changed by it)"
        )
        self.batch_id = batch_id


class StoreUnavailableError(ResolverError):
    """The graph store cannot be reached, or refused our credentials."""

    exit_code = 3


class BrokerUnavailableError(ResolverError):
    """The message broker (NATS JetStream) cannot be reached, refused our credentials, or
    would not set up a stream or consumer."""

    exit_code = 3


class QueryError(ResolverError):
    """A named query is unknown, or was called with parameters it does not declare."""


class AdapterError(ResolverError):
    """An adapter cannot be built from its spec (unknown kind, bad module, missing program)."""

    exit_code = 2


class ServiceError(ResolverError):
    """``resolver serve`` answered a request of ``resolver.client.ServiceClient`` with an error:
    ``status`` is the HTTP status, the message the service's one line."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.exit_code = 2 if 400 <= status < 500 else 1


class ServiceUnavailableError(ServiceError):
    """``resolver serve`` cannot be reached, or answered 503 (it cannot reach its store)."""

    exit_code = 3

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message, status)
        self.exit_code = 3


class LocalServerError(ResolverError):
    """A local development server (``resolver neo4j ...``) could not be installed, started or
    stopped."""


class LocalNeo4jError(LocalServerError):
    """The local Neo4j server could not be installed, started or stopped."""


class LocalNatsError(LocalServerError):
    """The local NATS server could not be started or stopped."""
