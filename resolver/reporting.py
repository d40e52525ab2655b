"""Reports from services that answer later: completions and failures, one or many at a time,
from the shell (``complete/fail --from``), over HTTP (``resolver serve``) or off a broker. One
parser for the item shapes and one recorder, so every way in follows the same rules
(docs/interface.md, "Reports"):

- completion items ``{"objectId": ..., "identifierIds": {...}}`` or ``{"linkId": ...}``;
- failure items ``{"objectId" | "linkId": ..., "reason": "...", "permanent": true}``
  (``permanent`` optional, default true).

An input with one unusable item is refused whole, naming the item, and nothing of it is
recorded; so is one naming an item the batch does not have. Usable items are recorded in chunked
transactions; each gets an outcome: ``recorded``, ``already-complete`` (the item already is where
the report would put it: complete, or failed for a failure report) or ``refused`` (it is not
awaiting a report, with its status).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Literal, TypeVar

from .errors import UnknownItemError, UsageError
from .models import Identifiers, ItemKind, Outcome, identifier_problem
from .store.base import Finish, GraphStore
from .text import json_kind, shown

__all__ = [
    "ItemResult",
    "Report",
    "ReportError",
    "ReportKind",
    "finish_if_done",
    "parse_item",
    "parse_items",
    "read_chunks",
    "read_lines",
    "record",
    "record_chunks",
]

ReportKind = Literal["completion", "failure"]
Outcomes = Literal["recorded", "already-complete", "refused"]
CHUNK = 5000
#: transactions at once for a big report, on a store with parallel writes
WRITERS = 2
T = TypeVar("T")


class ReportError(UsageError):
    """A report that cannot be used as given (exit 2, HTTP 400); nothing of its input was
    recorded."""


@dataclass(frozen=True)
class Report:
    kind: ItemKind
    item_id: str
    identifier_ids: Identifiers | None = None  # a completed object's
    reason: str | None = None  # a failure's
    permanent: bool = True


@dataclass(frozen=True)
class ItemResult:
    kind: ItemKind
    item_id: str
    outcome: Outcomes
    status: str

    def to_json(self) -> dict[str, Any]:
        key = "objectId" if self.kind == "object" else "linkId"
        return {key: self.item_id, "outcome": self.outcome, "status": self.status}


_ALLOWED = {
    "completion": {"objectId", "linkId", "identifierIds"},
    "failure": {"objectId", "linkId", "reason", "permanent"},
}


def parse_item(data: Any, kind: ReportKind, where: str) -> Report:
    """One item, checked; ReportError naming ``where`` (``line 3``, ``item 2``) and the problem."""
    if not isinstance(data, dict):
        raise ReportError(f"{where}: expected an object, got {json_kind(data)}")
    unknown = sorted(set(data) - _ALLOWED[kind])
    if unknown:
        raise ReportError(f"{where}: unknown key {shown(unknown[0])}")
    has_object, has_link = "objectId" in data, "linkId" in data
    if has_object == has_link:
        raise ReportError(f"{where}: give exactly one of objectId and linkId")
    item_kind: ItemKind = "object" if has_object else "link"
    key = "objectId" if has_object else "linkId"
    item_id = data[key]
    if not isinstance(item_id, str) or not item_id:
        raise ReportError(f"{where}: {key} must be a non-empty string, got {json_kind(item_id)}")
    if kind == "completion":
        ids = data.get("identifierIds")
        if item_kind == "link":
            if ids is not None:
                raise ReportError(f"{where}: a link's completion carries no identifierIds")
            return Report("link", item_id)
        if ids is None:
            raise ReportError(f"{where}: identifierIds is required for an object")
        problem = identifier_problem(ids)
        if problem is not None:
            raise ReportError(f"{where}: {problem}")
        return Report("object", item_id, identifier_ids=dict(ids))
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ReportError(f"{where}: reason must be a non-empty string, got {json_kind(reason)}")
    permanent = data.get("permanent", True)
    if not isinstance(permanent, bool):
        raise ReportError(f"{where}: permanent must be true or false, got {json_kind(permanent)}")
    return Report(item_kind, item_id, reason=reason, permanent=permanent)


def parse_items(data: Any, kind: ReportKind) -> list[Report]:
    """A JSON array of items (an HTTP body); ReportError for the first unusable one."""
    if not isinstance(data, list):
        raise ReportError(f"expected a JSON array of {kind} items, got {json_kind(data)}")
    return [parse_item(item, kind, f"item {i}") for i, item in enumerate(data)]


def read_chunks(
    stream: Iterable[str], kind: ReportKind, source: str, size: int = CHUNK
) -> Iterator[list[Report]]:
    """JSON Lines, one item a line (blank lines skipped), ``size`` items at a time; ReportError
    naming the line."""
    chunk: list[Report] = []
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ReportError(f"{source}: line {number}: not JSON ({exc})") from None
        chunk.append(parse_item(data, kind, f"{source}: line {number}"))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_lines(stream: IO[str], kind: ReportKind, source: str) -> list[Report]:
    """``read_chunks``, all of it."""
    return [report for chunk in read_chunks(stream, kind, source) for report in chunk]


def record(
    store: GraphStore, batch_id: str, reports: Sequence[Report], kind: ReportKind, *, chunk: int = CHUNK
) -> list[ItemResult]:
    """Record ``reports`` in chunked transactions, in their order; one result each.
    UnknownBatchError, or UnknownItemError (nothing recorded) when an item is not in the batch."""
    if len(reports) == 1:
        return _record_one(store, batch_id, reports[0], kind)
    store.batch_status(batch_id)
    _check_known(store, batch_id, reports, chunk)
    return _record_many(store, batch_id, reports, kind, chunk)


def record_chunks(
    store: GraphStore, batch_id: str, chunks: Iterable[Sequence[Report]], kind: ReportKind
) -> list[ItemResult]:
    """``record`` for reports still being read (``read_chunks``): on a store with parallel
    writes, each chunk's items are looked up while the next chunk is read. Nothing is written
    before the last item is read and every item found; an unusable item (ReportError from the
    reader) comes first, before the batch's and the items' errors, as when reading first."""
    if not store.parallel_writes:
        return record(store, batch_id, [r for part in chunks for r in part], kind)
    reports: list[Report] = []
    with ThreadPoolExecutor(WRITERS, thread_name_prefix="resolver-lookup") as pool:
        head = pool.submit(store.batch_status, batch_id)
        lookups = []
        try:
            for part in chunks:
                reports += part
                lookups.append(pool.submit(_unknown, store, batch_id, part))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # reads only: nothing to undo
            raise
        if len(reports) == 1:  # a report of one item is written first (_record_one)
            pool.shutdown(wait=False, cancel_futures=True)
            return _record_one(store, batch_id, reports[0], kind)
        head.result()
        missing = [m for lookup in lookups for m in lookup.result()]
    _refuse_unknown(batch_id, missing)
    return _record_many(store, batch_id, reports, kind, CHUNK)


def _record_one(store: GraphStore, batch_id: str, report: Report, kind: ReportKind) -> list[ItemResult]:
    """One item (a service reporting as it goes): the write first, the checks only when it
    changed nothing. A recorded item is proof enough that the batch and the item exist and
    that no load holds the batch (its items are never in flight); otherwise the batch is
    checked as for many items (UnknownBatchError, BatchLoadingError), and an item the store
    does not know is UnknownItemError, nothing having been recorded either way."""
    [result] = _record_many(store, batch_id, [report], kind, CHUNK)
    if result.outcome != "recorded":
        store.batch_status(batch_id)
        if result.status == "unknown":
            raise UnknownItemError(batch_id, report.kind, report.item_id)
    return [result]


def _record_many(
    store: GraphStore, batch_id: str, reports: Sequence[Report], kind: ReportKind, chunk: int
) -> list[ItemResult]:
    if kind == "failure":
        outcomes: list[Outcome] = []
        for i in range(0, len(reports), chunk):
            part = reports[i : i + chunk]
            items = [(r.kind, r.item_id, r.reason or "", r.permanent) for r in part]
            outcomes += store.fail_many(batch_id, items)
        return [_result(o, "failed") for o in outcomes]
    objects = [(r.item_id, r.identifier_ids or {}) for r in reports if r.kind == "object"]
    links = [r.item_id for r in reports if r.kind == "link"]
    # Chunks of objects' and of links' completions, two transactions at once on a store with
    # cores of its own. Items awaiting a report never depend on one another (a child is only
    # dispatched once its parents are complete), so two chunks touch disjoint items except
    # where independent links join them: a lock wait, at worst a deadlock the store retries.
    jobs: list[Callable[[], list[Outcome]]] = [
        partial(store.complete_objects, batch_id, objects[i : i + chunk])
        for i in range(0, len(objects), chunk)
    ]
    jobs += [
        partial(store.complete_links, batch_id, links[i : i + chunk]) for i in range(0, len(links), chunk)
    ]
    found = _run(store, jobs)
    by_object = [o for o in found if o.kind == "object"]
    by_link = [o for o in found if o.kind == "link"]
    done = iter(by_object), iter(by_link)
    return [_result(next(done[r.kind == "link"]), "complete") for r in reports]


def _run(store: GraphStore, jobs: Sequence[Callable[[], list[T]]]) -> list[T]:
    """The jobs' results in order, WRITERS at a time on a store with parallel writes."""
    if store.parallel_writes and len(jobs) > 1:
        with ThreadPoolExecutor(WRITERS, thread_name_prefix="resolver-report") as pool:
            return [x for part in pool.map(lambda job: job(), jobs) for x in part]
    return [x for job in jobs for x in job()]


def finish_if_done(store: GraphStore, batch_id: str) -> Finish | None:
    """When the last report came from here rather than a running worker: the batch's final
    transition (its batch-complete is then owed, for the next run or serve to deliver)."""
    if store.progress(batch_id).unfinished == 0:
        return store.finish(batch_id)
    return None


def _check_known(store: GraphStore, batch_id: str, reports: Sequence[Report], chunk: int) -> None:
    jobs = [partial(_unknown, store, batch_id, reports[i : i + chunk]) for i in range(0, len(reports), chunk)]
    _refuse_unknown(batch_id, _run(store, jobs))


def _refuse_unknown(batch_id: str, missing: Sequence[tuple[ItemKind, str]]) -> None:
    """UnknownItemError for the least missing (kind, id), whichever way the items were looked
    up, so a report names the same item read at once or in chunks."""
    if missing:
        raise UnknownItemError(batch_id, *min(missing))


def _unknown(store: GraphStore, batch_id: str, reports: Iterable[Report]) -> list[tuple[ItemKind, str]]:
    """The items of ``reports`` that the batch does not have."""
    return store.missing(batch_id, sorted({(r.kind, r.item_id) for r in reports}))


def _result(outcome: Outcome, target: str) -> ItemResult:
    status = outcome.status or "unknown"
    if outcome.changed:
        return ItemResult(outcome.kind, outcome.item_id, "recorded", status)
    if status == target:
        return ItemResult(outcome.kind, outcome.item_id, "already-complete", status)
    return ItemResult(outcome.kind, outcome.item_id, "refused", status)
