"""The messages external services receive and what recording an answer did, built here once for
every store (``docs/interface.md``, "Messages"), so the stores cannot drift apart on a field or
a key.
"""

from __future__ import annotations

from typing import Any

from .models import (
    BatchComplete,
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
    "link_end",
    "link_key",
    "object_key",
    "settled",
]


def object_key(batch_id: str, object_id: str) -> str:
    return f"{batch_id}/object/{object_id}"


def link_key(batch_id: str, link_id: str) -> str:
    return f"{batch_id}/link/{link_id}"


def batch_complete_key(batch_id: str) -> str:
    return f"{batch_id}/batch-complete"


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


def batch_complete(batch_id: str, status: str) -> BatchComplete:
    return {"kind": "batch-complete", "batchId": batch_id, "status": status}


def settled(kind: ItemKind, item_id: str, before: str | None, to: str) -> Outcome:
    """What a guarded transition to ``to`` did, from the status the item had ``before`` it: only
    an item in flight ('creating') moves; any other keeps its status (None: no such item)."""
    if before == "creating":
        return Outcome(kind, item_id, True, to)
    return Outcome(kind, item_id, False, before)
