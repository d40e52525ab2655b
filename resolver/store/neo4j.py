"""The Neo4j store: the only module that imports the driver.

Every query is a named file in ``cypher/``; every value travels as a parameter. Writes run in
managed transactions (retried on transient errors), so each transaction function is idempotent:
it only reads its inputs and the graph.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import neo4j
from neo4j import exceptions as neo4j_errors

from ..errors import (
    BatchExistsError,
    BatchStateError,
    ResolverError,
    StoreUnavailableError,
    UnknownBatchError,
)
from ..models import (
    Batch,
    BatchStatus,
    Claim,
    CreateLink,
    CreateObject,
    Identifiers,
    Outcome,
    ValidationIssue,
)
from ..plan import LoadPlan, plan_load
from ..queries import query
from ..validation import find_cycles, issue, order_issues
from .base import Finish, ItemKind, Progress

__all__ = ["Neo4jStore"]

T = TypeVar("T")

# The driver logs each retried transaction as a multi-line warning on stderr; retries are its
# job and ours to bound, and the CLI's contract is one readable line per error.
logging.getLogger("neo4j").addHandler(logging.NullHandler())
LOAD_CHUNK = 10_000
LOAD_WRITERS = 2


class Neo4jStore:
    name = "neo4j"
    parallel_writes = True

    def __init__(
        self,
        uri: str,
        user: str = "neo4j",
        password: str = "",
        database: str = "neo4j",
        *,
        connect_timeout: float = 10.0,
    ) -> None:
        self.uri = uri
        self.database = database
        try:
            self._driver = neo4j.GraphDatabase.driver(
                uri,
                auth=(user, password),
                connection_timeout=connect_timeout,
                max_transaction_retry_time=60.0,
                notifications_min_severity="OFF",
            )
        except (ValueError, neo4j_errors.ConfigurationError) as exc:
            raise StoreUnavailableError(f"bad Neo4j URI {uri!r}: {exc}") from None
        self._schema_ready = False
        self._version = ""

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        self._driver.close()

    def describe(self) -> str:
        return f"Neo4j {self.server_version()} at {self.uri} (database {self.database})"

    def server_version(self) -> str:
        if not self._version:
            with self._guard():
                info = self._driver.get_server_info()
                self._version = info.agent.split("/", 1)[-1]
        return self._version

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Driver errors a user can act on become one-line StoreUnavailableErrors."""
        try:
            yield
        except neo4j_errors.AuthError:
            raise StoreUnavailableError(
                f"Neo4j at {self.uri} refused the credentials (check NEO4J_USERNAME/NEO4J_PASSWORD)"
            ) from None
        except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired, OSError) as exc:
            raise StoreUnavailableError(
                f"cannot reach Neo4j at {self.uri}: {_first_line(exc)} "
                "(start one with 'resolver neo4j start' or set NEO4J_URI)"
            ) from None
        except neo4j_errors.ClientError as exc:
            if exc.code and "DatabaseNotFound" in exc.code:
                raise StoreUnavailableError(
                    f"Neo4j at {self.uri} has no database {self.database!r}"
                ) from None
            raise
        except neo4j_errors.DriverError as exc:
            if isinstance(exc, ResolverError):
                raise
            raise StoreUnavailableError(f"Neo4j driver error: {_first_line(exc)}") from None

    def _write(self, fn: Callable[[neo4j.ManagedTransaction], T]) -> T:
        self.ensure_schema()
        with self._guard(), self._driver.session(database=self.database) as session:
            return session.execute_write(fn)

    def _read(self, fn: Callable[[neo4j.ManagedTransaction], T]) -> T:
        self.ensure_schema()
        with self._guard(), self._driver.session(database=self.database) as session:
            return session.execute_read(fn)

    def _one(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return self._write(lambda tx: _run(tx, name, **params))

    def ensure_schema(self) -> None:
        """Constraints and indexes, each in its own transaction; IF NOT EXISTS makes it idempotent."""
        if self._schema_ready:
            return
        with self._guard(), self._driver.session(database=self.database) as session:
            for statement in filter(None, (s.strip() for s in _statements(query("schema").text))):
                session.run(statement).consume()
            session.run("CALL db.awaitIndexes(300)").consume()
        self._schema_ready = True

    # -- loading ------------------------------------------------------------------------------

    def load(
        self, batch: Batch | LoadPlan, *, replace: bool = False, places: Mapping[int, str] | None = None
    ) -> None:
        """Staged load: the Batch node says 'loading' until every chunk is in; a failure deletes
        what was written, and a load that died is replaced by the next load of that id. A plan
        is read a chunk at a time, so memory holds a few chunks, never the batch."""
        plan = batch if isinstance(batch, LoadPlan) else plan_load(batch, places)
        batch_id = plan.batch_id
        existing = self._one("batch_exists", batchId=batch_id)
        if existing and not replace and existing[0]["status"] != "loading":
            raise BatchExistsError(batch_id)
        if existing:
            self.delete(batch_id)
        self._one("batch_create", batchId=batch_id, objectCount=plan.object_count, linkCount=plan.link_count)
        # The chunks of one stage are written side by side: the server runs a transaction on one
        # core, and a second writer keeps the other busy (load took 8.6 s instead of 12.6 s at
        # 100k objects). The stages stay in order: links match the objects written before them.
        pool = ThreadPoolExecutor(LOAD_WRITERS, thread_name_prefix="resolver-load")
        writer = _Writer(pool, self._write, batch_id)
        try:
            for chunk in plan.link_tags():
                writer.add("load_link_tags", chunk)
            writer.stage_done()
            for chunk in plan.objects():
                # rows as lists: smaller on the wire and cheaper to pack than maps (see the .cypher files)
                writer.add(
                    "load_objects",
                    [
                        [
                            r["objectId"],
                            r["objectType"],
                            r["fields"],
                            r["identifierIds"],
                            r["existing"],
                            r["unmet"],
                            r["status"],
                            r["ord"],
                        ]
                        for r in chunk
                    ],
                )
            writer.stage_done()
            for chunk in plan.references():
                writer.add("load_references", chunk)
            writer.stage_done()
            named = plan.source_names_places  # else a link's place is its ord: not stored
            for links in plan.links():
                dependent, independent = [], []
                for r in links.resolved:
                    given = r["place"] if named else None
                    if r["dependent"]:
                        dependent.append(
                            [
                                r["childId"],
                                r["parentId"],
                                r["linkId"],
                                r["linkTag"],
                                r["separate"],
                                r["ord"],
                                given,
                            ]
                        )
                    else:
                        independent.append(
                            [r["childId"], r["parentId"], r["linkId"], r["linkTag"], r["ord"], given]
                        )
                writer.add("load_dependent", dependent)
                writer.add("load_independent", independent)
                writer.add("load_unresolved", links.unresolved)
            writer.stage_done()
            self._one("batch_set_status", batchId=batch_id, **{"from": ["loading"]}, to="loaded")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # nothing may land after the delete
            self.delete(batch_id)
            raise
        finally:
            pool.shutdown(wait=True)

    def validate(self, batch_id: str) -> list[ValidationIssue]:
        self.batch_status(batch_id)

        def checks(tx: neo4j.ManagedTransaction) -> list[tuple[int, ValidationIssue]]:
            found: list[tuple[int, ValidationIssue]] = []
            for row in _run(tx, "validate_unresolved", batchId=batch_id):
                if row["unknownObject"]:
                    found.append((row["ord"], issue("unknown-object", row)))
                if row["unknownReference"]:
                    found.append((row["ord"], issue("unknown-reference", row)))
            for row in _run(tx, "validate_links", batchId=batch_id):
                for code, flag in (
                    ("unknown-link-tag", "unknownTag"),
                    ("link-tag-mismatch", "mismatch"),
                    ("existing-child", "existingChild"),
                ):
                    if row[flag]:
                        found.append((row["ord"], issue(code, row)))
            edges = _rows(tx, "dependent_edges", batchId=batch_id)
            for cycle, link_ids in find_cycles((child, parent, link_id) for child, parent, link_id in edges):
                found.append((0, issue("dependency-cycle", {"cycle": cycle, "linkIds": link_ids})))
            return found

        errors = order_issues(self._read(checks))
        self._one(
            "batch_set_errors",
            batchId=batch_id,
            errors=json.dumps(errors),
            status="error" if errors else "loaded",
        )
        return errors

    def delete(self, batch_id: str) -> bool:
        while self._one("delete_batch_chunk", batchId=batch_id, limit=LOAD_CHUNK)[0]["deleted"]:
            pass
        return bool(self._one("delete_batch_node", batchId=batch_id)[0]["deleted"])

    def batch_status(self, batch_id: str) -> str:
        rows = self._read(lambda tx: _run(tx, "batch_exists", batchId=batch_id))
        if not rows or rows[0]["status"] == "loading":
            raise UnknownBatchError(batch_id)
        return str(rows[0]["status"])

    # -- processing ---------------------------------------------------------------------------

    def start(self, batch_id: str) -> str:
        self.batch_status(batch_id)
        rows = self._one("batch_set_status", batchId=batch_id, **{"from": ["loaded"]}, to="processing")
        return str(rows[0]["status"]) if rows else self.batch_status(batch_id)

    def claim(self, batch_id: str, *, worker: str, limit: int, lease_seconds: float) -> list[Claim]:
        until = time.time() + lease_seconds

        def work(tx: neo4j.ManagedTransaction) -> list[Claim]:
            out: list[Claim] = []
            for r in _rows(
                tx, "claim_objects", batchId=batch_id, limit=limit, worker=worker, leaseUntil=until
            ):
                ids = _ids(r["identifierIds"])
                if r["existing"]:
                    out.append(Claim("object", r["objectId"], r["attempt"], None, ids))
                    continue
                msg: CreateObject = {
                    "kind": "create-object",
                    "batchId": batch_id,
                    "objectId": r["objectId"],
                    "objectType": r["objectType"],
                    "fields": json.loads(r["fields"]),
                    "idempotencyKey": f"{batch_id}/object/{r['objectId']}",
                    "parents": [
                        {
                            "linkId": p["linkId"],
                            "linkTag": p["linkTag"],
                            "objectId": p["objectId"],
                            "identifierIds": _ids(p["identifierIds"]),
                        }
                        for p in r["parents"]
                    ],
                }
                out.append(Claim("object", r["objectId"], r["attempt"], msg))
            if len(out) < limit:
                for r in _rows(
                    tx,
                    "claim_links",
                    batchId=batch_id,
                    limit=limit - len(out),
                    worker=worker,
                    leaseUntil=until,
                ):
                    link: CreateLink = {
                        "kind": "create-link",
                        "batchId": batch_id,
                        "linkId": r["linkId"],
                        "linkTag": r["linkTag"],
                        "idempotencyKey": f"{batch_id}/link/{r['linkId']}",
                        "child": {"objectId": r["childId"], "identifierIds": _ids(r["childIds"])},
                        "parent": {"objectId": r["parentId"], "identifierIds": _ids(r["parentIds"])},
                    }
                    out.append(Claim("link", r["linkId"], r["attempt"], link))
            return out

        return self._write(work)

    def reclaim_expired(self, batch_id: str, *, now: float) -> int:
        return int(self._one("reclaim_expired", batchId=batch_id, now=now)[0]["reclaimed"])

    def renew(self, batch_id: str, *, worker: str, lease_seconds: float) -> int:
        rows = self._one("renew", batchId=batch_id, worker=worker, leaseUntil=time.time() + lease_seconds)
        return int(rows[0]["renewed"])

    def accept(self, batch_id: str, items: Sequence[tuple[ItemKind, str]]) -> None:
        objects = [i for k, i in items if k == "object"]
        links = [i for k, i in items if k == "link"]

        def work(tx: neo4j.ManagedTransaction) -> None:
            if objects:
                _run(tx, "accept_objects", batchId=batch_id, ids=objects)
            if links:
                _run(tx, "accept_links", batchId=batch_id, ids=links)

        self._write(work)

    def complete_objects(self, batch_id: str, items: Sequence[tuple[str, Identifiers]]) -> list[Outcome]:
        rows = [{"objectId": oid, "identifierIds": json.dumps(ids)} for oid, ids in items]

        # complete_objects also releases the completed objects' links and children (one statement)
        found = self._write(lambda tx: _rows(tx, "complete_objects", batchId=batch_id, items=rows))
        before = {r["objectId"]: r["before"] for r in found}
        return [_outcome("object", oid, before.get(oid)) for oid, _ in items]

    def complete_links(self, batch_id: str, link_ids: Sequence[str]) -> list[Outcome]:
        rows = self._write(lambda tx: _rows(tx, "complete_links", batchId=batch_id, ids=list(link_ids)))
        before = {r["linkId"]: r["before"] for r in rows}
        return [_outcome("link", lid, before.get(lid)) for lid in link_ids]

    def fail(self, batch_id: str, kind: ItemKind, item_id: str, reason: str) -> Outcome:
        def work(tx: neo4j.ManagedTransaction) -> str | None:
            if kind == "link":
                rows = _run(tx, "fail_link", batchId=batch_id, linkId=item_id, reason=reason)
                return rows[0]["before"] if rows else None
            rows = _run(tx, "fail_object", batchId=batch_id, objectId=item_id, reason=reason)
            if not rows:
                return None
            if rows[0]["before"] == "creating":
                frontier = [item_id]
                while frontier:  # breadth-first, one query per level: no recursion, no var-length path
                    _run(tx, "block_links", batchId=batch_id, ids=frontier, root=item_id)
                    frontier = [
                        r["objectId"]
                        for r in _run(tx, "block_dependents", batchId=batch_id, ids=frontier, root=item_id)
                    ]
            return str(rows[0]["before"])

        before = self._write(work)
        if before == "creating":
            return Outcome(kind, item_id, True, "failed")
        return Outcome(kind, item_id, False, before)

    def progress(self, batch_id: str) -> Progress:
        counts = {r["status"]: r["n"] for r in self._read(lambda tx: _run(tx, "progress", batchId=batch_id))}
        return Progress(
            ready=counts.get("ready", 0), creating=counts.get("creating", 0), waiting=counts.get("waiting", 0)
        )

    def finish(self, batch_id: str) -> Finish | None:
        rows = self._one("finish", batchId=batch_id)
        return Finish(rows[0]["status"]) if rows else None

    def retry(self, batch_id: str, object_id: str | None = None) -> int:
        status = self.batch_status(batch_id)
        if status == "error":
            raise BatchStateError(f"batch {batch_id!r} has validation errors; fix and reload")
        rows = self._one("retry", batchId=batch_id, objectId=object_id)
        return int(rows[0]["retried"])

    # -- reading ------------------------------------------------------------------------------

    def status(self, batch_id: str, *, detail: bool = False) -> BatchStatus:
        def work(tx: neo4j.ManagedTransaction) -> BatchStatus:
            head = _run(tx, "batch_get", batchId=batch_id)
            if not head or head[0]["status"] == "loading":
                raise UnknownBatchError(batch_id)
            objects: dict[str, int] = {}
            links: dict[str, int] = {}
            for r in _run(tx, "status_counts", batchId=batch_id):
                (objects if r["kind"] == "object" else links)[r["status"]] = r["n"]
            failures = [
                {
                    "kind": r["kind"],
                    ("objectId" if r["kind"] == "object" else "linkId"): r["id"],
                    "status": "failed",
                    "reason": r["reason"],
                }
                for r in _run(tx, "status_failures", batchId=batch_id)
            ]
            out = BatchStatus(
                batch_id,
                head[0]["status"],
                objects,
                links,
                json.loads(head[0]["errors"] or "[]"),
                failures=failures,
            )
            if detail:
                out.objectList = [
                    {
                        k: v
                        for k, v in {
                            **r,
                            "identifierIds": _ids(r["identifierIds"]) if r["identifierIds"] else None,
                        }.items()
                        if v is not None or k == "identifierIds"
                    }
                    for r in _run(tx, "list_objects", batchId=batch_id)
                ]
                out.linkList = [
                    {k: v for k, v in r.items() if v is not None}
                    for r in _run(tx, "list_links", batchId=batch_id)
                ]
            return out

        return self._read(work)

    def batch_ids(self) -> list[str]:
        return [r["batchId"] for r in self._read(lambda tx: _run(tx, "batch_list"))]


def _rows(tx: neo4j.ManagedTransaction, name: str, **params: Any) -> list[Any]:
    """A query that returns its rows as one list in one record (``RETURN collect(...) AS rows``):
    the driver's cost per record (about 10 microseconds in Python) is paid once, not per row."""
    q = query(name)
    record = tx.run(q.text, q.bind(params)).single(strict=True)
    return list(record["rows"])


def _run(tx: neo4j.ManagedTransaction, name: str, **params: Any) -> list[dict[str, Any]]:
    q = query(name)
    result = tx.run(q.text, q.bind(params))
    keys = result.keys()  # every value is a scalar, list or map: no Record.data() conversion needed
    return [dict(zip(keys, record.values(), strict=True)) for record in result]


def _loader(name: str, batch_id: str, rows: Sequence[Any]) -> Callable[[neo4j.ManagedTransaction], Any]:
    return lambda tx: _run(tx, name, batchId=batch_id, rows=rows)


class _Writer:
    """Rows of each query gathered into LOAD_CHUNK-row transactions, written by the pool with
    at most LOAD_WRITERS in flight, so the reader is never far ahead of the server."""

    def __init__(self, pool: ThreadPoolExecutor, write: Callable[[Any], Any], batch_id: str) -> None:
        self._pool, self._write, self._batch_id = pool, write, batch_id
        self._rows: dict[str, list[Any]] = {}
        self._pending: deque[Future[Any]] = deque()

    def add(self, name: str, rows: Sequence[Any]) -> None:
        buffer = self._rows.setdefault(name, [])
        buffer.extend(rows)
        while len(buffer) >= LOAD_CHUNK:
            self._submit(name, buffer[:LOAD_CHUNK])
            del buffer[:LOAD_CHUNK]

    def _submit(self, name: str, rows: list[Any]) -> None:
        self._pending.append(self._pool.submit(self._write, _loader(name, self._batch_id, rows)))
        while len(self._pending) > LOAD_WRITERS:
            self._pending.popleft().result()

    def stage_done(self) -> None:
        """Everything gathered written, and every write finished: the next stage may rely on it."""
        for name, buffer in self._rows.items():
            if buffer:
                self._submit(name, buffer)
        self._rows = {}
        while self._pending:
            self._pending.popleft().result()


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    return "\n".join(lines).split(";")


def _ids(raw: str | None) -> Identifiers:
    return json.loads(raw) if raw else {}


def _outcome(kind: ItemKind, item_id: str, before: str | None) -> Outcome:
    if before == "creating":
        return Outcome(kind, item_id, True, "complete")
    return Outcome(kind, item_id, False, before)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
