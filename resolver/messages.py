"""The messages external services receive and what recording an answer did, built here once for
every store (``docs/interface.md``, "Messages"), so the stores cannot drift apart on a field or
a key.
"""

from __future__ import annotations

from typing import Any

from .models import (
    BatchComplete,
    Counts,
    CreateLink,
    CreateObject,
    Identifiers,
    ItemKind,
    LinkEnd,
    Outcome,
    ParentRef,
)

__all__ = [
    "batch_complete",
    "batch_complete_key",
    "create_link",
    "create_object",
    "key",
    "link_end",
    "link_key",
    "object_key",
    "settled",
]


def key(*parts: str) -> str:
    """An idempotencyKey: its parts joined by ``/``. When no part holds a ``/`` that is all
    (``b/object/o``, the form services have always seen). Otherwise every part is escaped (``%``
    -> ``%25``, ``/`` -> ``%2F``) and the key ends in ``/``: no plain key ends so (ids are never
    empty), and escaped keys read back to their parts, so no two items or batches share one."""
    joined = "/".join(parts)
    if joined.count("/") == len(parts) - 1:  # no part holds one (a key per item sent: kept cheap)
        return joined
    return "/".join(p.replace("%", "%25").replace("/", "%2F") for p in parts) + "/"


def object_key(batch_id: str, object_id: str) -> str:
    return key(batch_id, "object", object_id)


def link_key(batch_id: str, link_id: str) -> str:
    return key(batch_id, "link", link_id)


def batch_complete_key(batch_id: str, finish: int = 1) -> str:
    """The first finish's notice is ``<batchId>/batch-complete``; a batch that ``retry`` reopened
    finishes again with news of its own, keyed ``<batchId>/batch-complete/<n>``, so that a
    service dropping repeated keys does not drop it."""
    return key(batch_id, "batch-complete") if finish <= 1 else key(batch_id, "batch-complete", str(finish))


def create_object(
    batch_id: str, object_id: str, object_type: str, fields: dict[str, Any], parents: list[ParentRef]
) -> CreateObject:
    """``parents`` are the object's dependent parents, each with the identifierIds it got."""
    return {
        "kind": "create-object",
        "batchId": batch_id,
        "objectId": object_id,
        "objectType": object_type,
        "fields": fields,
        "idempotencyKey": object_key(batch_id, object_id),
        "parents": sorted(parents, key=lambda p: p["linkId"]),
    }


def create_link(batch_id: str, link_id: str, link_tag: str, child: LinkEnd, parent: LinkEnd) -> CreateLink:
    return {
        "kind": "create-link",
        "batchId": batch_id,
        "linkId": link_id,
        "linkTag": link_tag,
        "idempotencyKey": link_key(batch_id, link_id),
        "child": child,
        "parent": parent,
    }


def link_end(object_id: str, identifier_ids: Identifiers | None) -> LinkEnd:
    return {"objectId": object_id, "identifierIds": identifier_ids or {}}


def batch_complete(
    batch_id: str, status: str, objects: Counts, links: Counts, finish: int = 1
) -> BatchComplete:
    """The message a finished batch owes: its final status and counts (``finish``: how many
    times the batch has finished, 1 but after a retry)."""
    return {
        "kind": "batch-complete",
        "batchId": batch_id,
        "status": status,
        "idempotencyKey": batch_complete_key(batch_id, finish),
        "objects": objects,
        "links": links,
    }


def settled(kind: ItemKind, item_id: str, before: str | None, to: str) -> Outcome:
    """What a guarded transition to ``to`` did, from the status the item had ``before`` it: only
    an item in flight ('creating') moves; any other keeps its status (None: no such item)."""
    if before == "creating":
        return Outcome(kind, item_id, True, to)
    return Outcome(kind, item_id, False, before)
