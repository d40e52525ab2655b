"""The Neo4j store; with its loads (`neo4j_load`) and its reader, the only code that uses the driver.

Every query is a named file in ``cypher/``; every value travels as a parameter. Writes run in
managed transactions (retried on transient errors), so each transaction function is idempotent:
it only reads its inputs and the graph.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import neo4j
from neo4j import exceptions as neo4j_errors

from .. import messages
from ..batchfile.plan import LoadPlan, plan_load
from ..errors import (
    BatchBusyError,
    BatchLoadingError,
    BatchReplacedError,
    BatchStateError,
    ResolverError,
    StoreUnavailableError,
    UnknownBatchError,
)
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
from ..validation import find_cycles, issue, order_issues
from . import queries
from .base import REPORTED_ATTEMPTS, Failure, Finish, GraphReader, Progress, Started
from .neo4j_claims import claims_of
from .neo4j_load import StagedLoads
from .neo4j_reader import Neo4jReader
from .neo4j_walk import Neo4jWalks
from .queries import query
from .walks import Topology, WalkRow

__all__ = ["Neo4jStore"]

T = TypeVar("T")

# The driver logs each retried transaction as a multi-line warning on stderr; retries are its
# job and ours to bound, and the CLI's contract is one readable line per error.
logging.getLogger("neo4j").addHandler(logging.NullHandler())


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
        self._loads = StagedLoads(self._write)
        self._walks = Neo4jWalks(self._read, self._write)
        self._loading: dict[str, str] = {}  # batch id -> the owner token of this store's load

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
        return self._write(lambda tx: queries.run(tx, name, **params))

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
        self,
        batch: Batch | LoadPlan,
        *,
        replace: bool = False,
        force: bool = False,
        places: Mapping[int, str] | None = None,
    ) -> None:
        """Staged load: the Batch node says 'loading' (held by this load's token and lease) until
        every chunk is in, then 'validating' until ``validate``; a failure deletes what was
        written, and a load that died is taken over by the next load of that id. A plan is read
        a chunk at a time, so memory holds a few chunks, never the batch."""
        plan = batch if isinstance(batch, LoadPlan) else plan_load(batch, places)
        self._loading[plan.batch_id] = self._loads.write(plan, replace=replace, force=force)

    def validate(self, batch_id: str) -> list[ValidationIssue]:
        owner = self._loading.pop(batch_id, None)
        if owner is None:
            self.batch_status(batch_id)  # not this store's load: an existing batch, checked again
            return self._validate(batch_id, None)
        hold = self._loads.hold(batch_id, owner)
        try:
            return self._validate(batch_id, owner)
        finally:
            hold.close()

    def _validate(self, batch_id: str, owner: str | None) -> list[ValidationIssue]:

        def checks(tx: neo4j.ManagedTransaction) -> list[tuple[int, ValidationIssue]]:
            found: list[tuple[int, ValidationIssue]] = []
            for row in queries.run(tx, "validate_unresolved", batchId=batch_id):
                if row["unknownObject"]:
                    found.append((row["ord"], issue("unknown-object", row)))
                if row["unknownReference"]:
                    found.append((row["ord"], issue("unknown-reference", row)))
            for row in queries.run(tx, "validate_links", batchId=batch_id):
                for code, flag in (
                    ("unknown-link-tag", "unknownTag"),
                    ("link-tag-mismatch", "mismatch"),
                    ("existing-child", "existingChild"),
                ):
                    if row[flag]:
                        found.append((row["ord"], issue(code, row)))
            edges = queries.rows(tx, "dependent_edges", batchId=batch_id)
            for cycle, link_ids in find_cycles((child, parent, link_id) for child, parent, link_id in edges):
                found.append((0, issue("dependency-cycle", {"cycle": cycle, "linkIds": link_ids})))
            return found

        errors = order_issues(self._read(checks))
        verdict = self._one(
            "batch_set_errors",
            batchId=batch_id,
            owner=owner,
            errors=json.dumps(errors),
            status="error" if errors else "loaded",
        )
        if owner is not None and not verdict:
            raise BatchBusyError(batch_id, "was taken over by another load while this one validated it")
        return errors

    def delete(self, batch_id: str) -> bool:
        self._loads.delete_items(batch_id)
        return bool(self._one("delete_batch_node", batchId=batch_id, owner=None)[0]["deleted"])

    def batch_status(self, batch_id: str) -> str:
        rows = self._read(lambda tx: queries.run(tx, "batch_get", batchId=batch_id))
        return _visible(batch_id, rows)["status"]  # type: ignore[no-any-return]

    # -- processing ---------------------------------------------------------------------------

    def start(self, batch_id: str) -> Started:
        self.batch_status(batch_id)
        self._one("batch_set_status", batchId=batch_id, owner=None, **{"from": ["loaded"]}, to="processing")
        head = self._one("batch_exists", batchId=batch_id)
        if not head:
            raise UnknownBatchError(batch_id)
        return Started(head[0]["status"], head[0]["gen"])

    def claim(
        self,
        batch_id: str,
        *,
        worker: str,
        limit: int,
        lease_seconds: float,
        generation: str | None = None,
    ) -> list[Claim]:
        until = time.time() + lease_seconds
        # the claims are built once the transaction is committed: the batch node's lock, which
        # every claim of the batch waits for, is not held while Python makes the messages
        head = self._write(lambda tx: _claim_record(tx, batch_id, worker, limit, until, generation))
        return claims_of(batch_id, head)

    def reclaim_expired(self, batch_id: str, *, now: float) -> int:
        # a walk whose lease ran out is taken over first: its open items become claimable
        walked = self._walks.release(batch_id, None, now)
        return int(self._one("reclaim_expired", batchId=batch_id, now=now)[0]["reclaimed"]) + walked

    def renew(self, batch_id: str, *, worker: str, lease_seconds: float) -> int:
        rows = self._one("renew", batchId=batch_id, worker=worker, leaseUntil=time.time() + lease_seconds)
        return int(rows[0]["renewed"])

    def release(self, batch_id: str, *, worker: str) -> int:
        walked = self._walks.release(batch_id, worker)
        return int(self._one("release", batchId=batch_id, worker=worker)[0]["released"]) + walked

    # -- walking (walks.WalkStore) --------------------------------------------------------------

    def walk_begin(self, batch_id: str, *, worker: str, lease_seconds: float, generation: str | None) -> bool:
        return self._walks.begin(batch_id, worker, lease_seconds, generation)

    def walk_topology(self, batch_id: str) -> Topology:
        return self._walks.topology(batch_id)

    def walk_claims(
        self,
        batch_id: str,
        *,
        worker: str,
        generation: str | None,
        objects: Sequence[int],
        links: Sequence[int],
    ) -> list[Claim] | None:
        return self._walks.claims(batch_id, worker, generation, objects, links)

    def walk_write(
        self,
        batch_id: str,
        *,
        worker: str,
        generation: str | None,
        objects: Sequence[WalkRow],
        links: Sequence[WalkRow],
    ) -> bool:
        return self._walks.write(batch_id, worker, generation, objects, links)

    def walk_end(self, batch_id: str, *, worker: str) -> None:
        self._walks.release(batch_id, worker)

    def lease_holders(self, batch_id: str) -> list[str]:
        workers = self._read(lambda tx: queries.rows(tx, "lease_holders", batchId=batch_id))
        return sorted(str(w) for w in workers)

    def accept(
        self, batch_id: str, items: Sequence[tuple[ItemKind, str]], *, worker: str | None = None
    ) -> None:
        objects = [i for k, i in items if k == "object"]
        links = [i for k, i in items if k == "link"]

        def work(tx: neo4j.ManagedTransaction) -> None:
            if objects:
                queries.run(tx, "accept_objects", batchId=batch_id, ids=objects, worker=worker)
            if links:
                queries.run(tx, "accept_links", batchId=batch_id, ids=links, worker=worker)

        self._write(work)

    def complete_objects(
        self, batch_id: str, items: Sequence[tuple[str, Identifiers]], *, worker: str | None = None
    ) -> list[Outcome]:
        # Each object once: the statement reads every row's status before it writes any (its
        # Eager), so an answer there twice (a redelivery in the same fetch) would complete it twice
        # and take two off each child's unmet, making a child ready before its other parents.
        first: dict[str, Identifiers] = {}
        for oid, ids in items:
            first.setdefault(oid, ids)
        rows = [{"objectId": oid, "identifierIds": json.dumps(ids)} for oid, ids in first.items()]

        # complete_objects also releases the completed objects' links and children (one statement)
        found = self._write(
            lambda tx: queries.rows(tx, "complete_objects", batchId=batch_id, items=rows, worker=worker)
        )
        before = {r["objectId"]: r["before"] for r in found}
        return _settled("object", [oid for oid, _ in items], before)

    def complete_links(
        self, batch_id: str, link_ids: Sequence[str], *, worker: str | None = None
    ) -> list[Outcome]:
        ids = list(dict.fromkeys(link_ids))  # each link once, as complete_objects
        found = self._write(
            lambda tx: queries.rows(tx, "complete_links", batchId=batch_id, ids=ids, worker=worker)
        )
        before = {r["linkId"]: r["before"] for r in found}
        return _settled("link", list(link_ids), before)

    def fail(self, batch_id: str, kind: ItemKind, item_id: str, reason: str) -> Outcome:
        return self.fail_many(batch_id, [(kind, item_id, reason, True)])[0]

    def fail_many(
        self, batch_id: str, items: Sequence[Failure], *, worker: str | None = None
    ) -> list[Outcome]:
        def work(tx: neo4j.ManagedTransaction) -> list[Outcome]:
            return [_fail(tx, batch_id, *item, worker) for item in items]

        return self._write(work)

    def missing(self, batch_id: str, items: Sequence[tuple[ItemKind, str]]) -> list[tuple[ItemKind, str]]:
        objects = [i for k, i in items if k == "object"]
        links = [i for k, i in items if k == "link"]
        found = self._read(
            lambda tx: queries.rows(tx, "missing", batchId=batch_id, objects=objects, links=links)
        )
        return [(kind, item_id) for kind, item_id in found]

    def progress(self, batch_id: str) -> Progress:
        found = self._read(lambda tx: queries.run(tx, "progress", batchId=batch_id))
        counts = {r["status"]: r["n"] for r in found}
        return Progress(
            ready=counts.get("ready", 0),
            creating=counts.get("creating", 0),
            waiting=counts.get("waiting", 0),
            walked=bool(counts.get("walked")),
        )

    def finish(self, batch_id: str, generation: str | None = None) -> Finish | None:
        rows = self._one("finish", batchId=batch_id, gen=generation)
        if generation is not None and (not rows or rows[0]["gen"] != generation):
            raise BatchReplacedError(batch_id)
        return Finish(rows[0]["status"]) if rows and rows[0]["status"] else None

    def owed(self, batch_id: str) -> BatchComplete | None:
        st = self.status(batch_id)
        if st.batchComplete != "owed":
            return None
        return messages.batch_complete(batch_id, st.status, *st.counts(), finish=st.finishes)

    def delivered(self, batch_id: str) -> bool:
        return bool(self._one("batch_delivered", batchId=batch_id)[0]["marked"])

    def retry(self, batch_id: str, object_id: str | None = None) -> int:
        status = self.batch_status(batch_id)
        if status == "error":
            raise BatchStateError(f"batch {batch_id!r} has validation errors; fix and reload")
        rows = self._one("retry", batchId=batch_id, objectId=object_id)
        return int(rows[0]["retried"])

    # -- reading ------------------------------------------------------------------------------

    def status(self, batch_id: str, *, detail: bool = False) -> BatchStatus:
        def work(tx: neo4j.ManagedTransaction) -> BatchStatus:
            head = [_visible(batch_id, queries.run(tx, "batch_get", batchId=batch_id))]
            objects: dict[str, int] = {}
            links: dict[str, int] = {}
            for r in queries.run(tx, "status_counts", batchId=batch_id):
                (objects if r["kind"] == "object" else links)[r["status"]] = r["n"]
            failures = [
                {
                    "kind": r["kind"],
                    ("objectId" if r["kind"] == "object" else "linkId"): r["id"],
                    "status": "failed",
                    "reason": r["reason"],
                }
                for r in queries.run(tx, "status_failures", batchId=batch_id)
            ]
            out = BatchStatus(
                batch_id,
                head[0]["status"],
                objects,
                links,
                json.loads(head[0]["errors"] or "[]"),
                failures=failures,
                batchComplete=head[0]["batchComplete"],
                finishes=head[0]["finishes"],
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
                    for r in queries.run(tx, "list_objects", batchId=batch_id)
                ]
                out.linkList = [
                    {k: v for k, v in r.items() if v is not None}
                    for r in queries.run(tx, "list_links", batchId=batch_id)
                ]
            return out

        return self._read(work)

    def batch_ids(self) -> list[str]:
        return [r["batchId"] for r in self._read(lambda tx: queries.run(tx, "batch_list"))]

    @contextmanager
    def reader(self, batch_id: str) -> Iterator[GraphReader]:
        """Reads for ``resolver.views`` in one read transaction (explicit: a managed one cannot
        stay open across the caller's block, and these reads are cheap to redo by hand)."""
        self.ensure_schema()
        with (
            self._guard(),
            self._driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session,
            session.begin_transaction() as tx,
        ):
            yield Neo4jReader(tx, batch_id)


def _settled(kind: ItemKind, ids: Sequence[str], before: Mapping[str, str]) -> list[Outcome]:
    """An outcome per reported id, in order: a repeat of an id finds what its first one left."""
    out: list[Outcome] = []
    done: set[str] = set()
    for item_id in ids:
        was = before.get(item_id)
        if item_id in done and was == "creating":
            was = "complete"
        done.add(item_id)
        out.append(messages.settled(kind, item_id, was, "complete"))
    return out


def _visible(batch_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The batch's head, for any command but its own load: UnknownBatchError, or
    BatchLoadingError while a load owns it (or died before it was done)."""
    if not rows:
        raise UnknownBatchError(batch_id)
    head = rows[0]
    if head["status"] in ("loading", "validating"):
        until = head["ownerUntil"]
        raise BatchLoadingError(batch_id, head["status"], alive=until is not None and until > time.time())
    return head


def _claim_record(
    tx: neo4j.ManagedTransaction,
    batch_id: str,
    worker: str,
    limit: int,
    until: float,
    generation: str | None,
) -> dict[str, Any]:
    """Up to ``limit`` ready items for ``worker``, objects first, in one statement under the
    batch node's lock and its generation's fence (claim.cypher): its one record."""
    found = queries.run(
        tx, "claim", batchId=batch_id, limit=limit, worker=worker, leaseUntil=until, gen=generation
    )
    if not found or (generation is not None and found[0]["gen"] != generation):
        raise BatchReplacedError(batch_id) if generation is not None else UnknownBatchError(batch_id)
    return found[0]


def _fail(
    tx: neo4j.ManagedTransaction,
    batch_id: str,
    kind: ItemKind,
    item_id: str,
    reason: str,
    permanent: bool,
    worker: str | None,
) -> Outcome:
    """One failure report in the caller's transaction: the item failed (and what depends on it
    blocked, breadth-first, one query per level: no recursion, no var-length path) or, for a
    transient one, ready again."""
    name, key = ("fail_link", "linkId") if kind == "link" else ("fail_object", "objectId")
    params = {key: item_id, "reason": reason, "permanent": permanent, "worker": worker}
    rows = queries.run(tx, name, batchId=batch_id, maxAttempts=REPORTED_ATTEMPTS, **params)
    if not rows:
        return messages.settled(kind, item_id, None, "failed")
    before, after = rows[0]["before"], rows[0]["after"]
    if before == "creating" and kind == "object" and after == "failed":
        frontier = [item_id]
        while frontier:
            queries.run(tx, "block_links", batchId=batch_id, ids=frontier, root=item_id)
            below = queries.run(tx, "block_dependents", batchId=batch_id, ids=frontier, root=item_id)
            frontier = [r["objectId"] for r in below]
    return messages.settled(kind, item_id, before, after if before == "creating" else "failed")


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    return "\n".join(lines).split(";")


def _ids(raw: str | None) -> Identifiers:
    return json.loads(raw) if raw else {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
