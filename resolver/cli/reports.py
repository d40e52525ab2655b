"""``complete`` and ``fail``: an external service reports what became of an item it was sent."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import IO

import click

from .. import reporting
from ..errors import NotAwaitingError, UsageError
from ..models import Identifiers, ItemKind
from ..reporting import ItemResult, Report, ReportKind
from ..store.base import GraphStore
from ..text import shown
from .app import cli, current_store

__all__ = ["complete", "fail"]


def _parse_ids(pairs: tuple[str, ...]) -> Identifiers:
    ids: Identifiers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--id expects KEY=VALUE, got {pair!r}")
        ids[key] = value
    return ids


def _one_item(object_id: str | None, link_id: str | None) -> tuple[ItemKind, str]:
    if object_id is not None and link_id is None:
        return "object", object_id
    if link_id is not None and object_id is None:
        return "link", link_id
    raise UsageError("give either OBJECT_ID or --link LINK_ID (or --from FILE)")


def _lines(stream: IO[str], name: str) -> Iterator[str]:
    """The stream's lines; a read that fails is a usage error naming the file."""
    try:
        yield from stream
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: byte {exc.start}: not valid UTF-8") from None
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None


def _record_from(store: GraphStore, batch_id: str, source: str, kind: ReportKind) -> list[ItemResult]:
    """The items of a JSON Lines file (``-``: stdin), looked up in the store as they are read."""
    name = "<stdin>" if source == "-" else source
    opened: contextlib.AbstractContextManager[IO[str]] = contextlib.nullcontext(sys.stdin)
    if source != "-":
        try:
            opened = open(source, encoding="utf-8")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    with opened as fh:
        items = reporting.read_chunks(_lines(fh, name), kind, name)
        return reporting.record_chunks(store, batch_id, items, kind)


def _report(batch_id: str, kind: ReportKind, item: Report | str) -> None:
    """Record one report or (``item`` a file name, ``-``: stdin) a file of them; say what
    happened; finish the batch if that was its last item. A single report keeps the one-line
    form: refused is exit 1 naming the status."""
    store = current_store()
    single = isinstance(item, Report)
    if isinstance(item, Report):
        results = reporting.record(store, batch_id, [item], kind)
    else:
        results = _record_from(store, batch_id, item, kind)
    repeat = "complete" if kind == "completion" else "failed"
    if single:
        [r] = results
        if r.outcome == "refused":
            raise NotAwaitingError(r.kind, r.item_id, r.status)
        done = r.status if r.outcome == "recorded" else f"already {repeat}; nothing changed"
        click.echo(f"{r.kind} {shown(r.item_id)}: {done}")
    else:
        refused = [r for r in results if r.outcome == "refused"]
        for r in refused:
            click.echo(
                f"refused: {r.kind} {shown(r.item_id)} is not awaiting a report (status: {r.status})",
                err=True,
            )
        counts = {o: sum(r.outcome == o for r in results) for o in ("recorded", "already-complete")}
        click.echo(
            f"batch {shown(batch_id)}: {counts['recorded']} recorded, {counts['already-complete']} "
            f"already {repeat}, {len(refused)} refused",
            err=True,
        )
    fin = reporting.finish_if_done(store, batch_id)
    if fin is not None:
        # printed as it always was; it stays owed, and the next run (or serve) delivers it
        owed = store.owed(batch_id)
        if owed is not None:
            click.echo(json.dumps(owed, ensure_ascii=False))
    if not single and any(r.outcome == "refused" for r in results):
        sys.exit(1)


_FROM = click.option(
    "--from",
    "source",
    metavar="FILE|-",
    help="Report many items: JSON Lines, one item a line (docs/interface.md, Reports).",
)


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--link", "link_id", help="Report a link created instead of an object.")
@click.option("--id", "ids", multiple=True, metavar="KEY=VALUE", help="An identifier of the created object.")
@_FROM
def complete(
    batch_id: str, object_id: str | None, link_id: str | None, ids: tuple[str, ...], source: str | None
) -> None:
    """An external service reports an object (with its identifierIds) or a link created, or
    many of them with --from."""
    if source is not None:
        if object_id is not None or link_id is not None or ids:
            raise UsageError("--from takes the items from the file: no OBJECT_ID, --link or --id")
        _report(batch_id, "completion", source)
        return
    kind, item = _one_item(object_id, link_id)
    if kind == "object" and not ids:
        raise UsageError("an object completion needs its identifiers: --id KEY=VALUE")
    report = Report(kind, item, identifier_ids=_parse_ids(ids) if kind == "object" else None)
    _report(batch_id, "completion", report)


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--link", "link_id", help="Report a link failed instead of an object.")
@click.option("--reason", help="Why the service failed it (required for one item).")
@_FROM
def fail(
    batch_id: str, object_id: str | None, link_id: str | None, reason: str | None, source: str | None
) -> None:
    """An external service reports that creating an object or link failed, or many with --from."""
    if source is not None:
        if object_id is not None or link_id is not None or reason is not None:
            raise UsageError("--from takes the items from the file: no OBJECT_ID, --link or --reason")
        _report(batch_id, "failure", source)
        return
    kind, item = _one_item(object_id, link_id)
    if not reason:
        raise UsageError("a failure needs its reason: --reason TEXT")
    _report(batch_id, "failure", Report(kind, item, reason=reason))
