"""Where the graph lives: the Neo4j tools' own environment variables, else the local server that
``resolver neo4j start`` runs, else a clear error. ``--store memory`` needs none of it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import StoreUnavailableError, UsageError
from .store.base import GraphStore

__all__ = ["Connection", "open_store", "resolve_connection"]


@dataclass(frozen=True)
class Connection:
    uri: str
    username: str
    password: str
    database: str
    source: str  # "environment", "options" or "local server"


def resolve_connection(
    uri: str | None = None,
    username: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> Connection:
    uri = uri or os.environ.get("NEO4J_URI")
    database = database or os.environ.get("NEO4J_DATABASE") or "neo4j"
    username = username or os.environ.get("NEO4J_USERNAME") or os.environ.get("NEO4J_USER") or "neo4j"
    if uri:
        password = password if password is not None else os.environ.get("NEO4J_PASSWORD", "")
        return Connection(uri, username, password, database, "environment")
    from .local import neo4j as local_neo4j

    server = local_neo4j.running()
    if server is None:
        raise StoreUnavailableError(
            "no Neo4j configured: set NEO4J_URI (and NEO4J_PASSWORD), start the local server with "
            "'resolver neo4j start', or use --store memory"
        )
    return Connection(server.uri, server.username, server.password, database, "local server")


def open_store(
    kind: str,
    uri: str | None = None,
    username: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> GraphStore:
    if kind == "memory":
        from .store.memory import MemoryStore

        return MemoryStore()
    if kind != "neo4j":
        raise UsageError(f"unknown store {kind!r} (use neo4j or memory)")
    from .store.neo4j import Neo4jStore

    conn = resolve_connection(uri, username, password, database)
    return Neo4jStore(conn.uri, conn.username, conn.password, conn.database)
