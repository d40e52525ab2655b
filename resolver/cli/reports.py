"""``complete`` and ``fail``: an external service reports what became of an item it was sent."""

from __future__ import annotations

import json

import click

from ..errors import NotAwaitingError, UnknownItemError, UsageError
from ..models import Identifiers, Outcome
from ..store.base import GraphStore
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


def _one_item(object_id: str | None, link_id: str | None) -> tuple[str, str]:
    if (object_id is None) == (link_id is None):
        raise UsageError("give either OBJECT_ID or --link LINK_ID")
    return ("object", object_id) if object_id is not None else ("link", link_id)  # type: ignore[return-value]


def _settle(batch_id: str, outcome: Outcome, repeat: str) -> None:
    """``repeat`` is the status a second identical report finds: harmless, exit 0. Any other
    unchanged status means the item was not awaiting this report: refused, exit 1."""
    if outcome.status is None:
        raise UnknownItemError(batch_id, outcome.kind, outcome.item_id)
    if outcome.changed:
        click.echo(f"{outcome.kind} {outcome.item_id}: {outcome.status}")
    elif outcome.status == repeat:
        click.echo(f"{outcome.kind} {outcome.item_id}: already {repeat}; nothing changed")
    else:
        raise NotAwaitingError(outcome.kind, outcome.item_id, outcome.status)


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--link", "link_id", help="Report a link created instead of an object.")
@click.option("--id", "ids", multiple=True, metavar="KEY=VALUE", help="An identifier of the created object.")
def complete(batch_id: str, object_id: str | None, link_id: str | None, ids: tuple[str, ...]) -> None:
    """An external service reports an object (with its identifierIds) or a link created."""
    kind, item = _one_item(object_id, link_id)
    store = current_store()
    store.batch_status(batch_id)
    if kind == "object":
        if not ids:
            raise UsageError("an object completion needs its identifiers: --id KEY=VALUE")
        outcome = store.complete_objects(batch_id, [(item, _parse_ids(ids))])[0]
    else:
        outcome = store.complete_links(batch_id, [item])[0]
    _settle(batch_id, outcome, repeat="complete")
    _finish_if_done(store, batch_id)


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--link", "link_id", help="Report a link failed instead of an object.")
@click.option("--reason", required=True, help="Why the service failed it.")
def fail(batch_id: str, object_id: str | None, link_id: str | None, reason: str) -> None:
    """An external service reports that creating an object or link failed."""
    kind, item = _one_item(object_id, link_id)
    store = current_store()
    store.batch_status(batch_id)
    _settle(batch_id, store.fail(batch_id, kind, item, reason), repeat="failed")  # type: ignore[arg-type]
    _finish_if_done(store, batch_id)


def _finish_if_done(store: GraphStore, batch_id: str) -> None:
    """The last completion may come from here rather than a running worker."""
    if store.progress(batch_id).unfinished == 0:
        fin = store.finish(batch_id)
        if fin is not None:
            click.echo(json.dumps({"kind": "batch-complete", "batchId": batch_id, "status": fin.status}))
