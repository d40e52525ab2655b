"""The batch file, the messages sent to external services, and what stores report back.

Pure data: no driver or store imports, so every layer can share these types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from typing_extensions import TypedDict  # pydantic validates these only on Python 3.12+ otherwise

from .text import json_kind

__all__ = [
    "Batch",
    "BatchComplete",
    "BatchStatus",
    "Claim",
    "Counts",
    "CreateLink",
    "CreateObject",
    "Identifiers",
    "ItemKind",
    "LinkEnd",
    "LinkSpec",
    "LinkTagSpec",
    "Message",
    "ObjectSpec",
    "Outcome",
    "ParentRef",
    "ReferenceSpec",
    "ValidationIssue",
    "identifier_problem",
]

Id = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Scalar = str | int | float | bool
Identifiers = dict[str, Scalar]
ItemKind = Literal["object", "link"]


class _Strict(BaseModel):
    # strict: a number where a string is expected is a wrong type, not something to coerce
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LinkTagSpec(_Strict):
    childType: Id
    parentType: Id


class ObjectSpec(_Strict):
    objectId: Id
    objectType: Id
    fields: dict[str, Any] = Field(default_factory=dict)
    identifierIds: Identifiers | None = None

    @property
    def existing(self) -> bool:
        return self.identifierIds is not None


class ReferenceSpec(_Strict):
    referenceId: Id
    objectId: Id


class LinkSpec(_Strict):
    linkId: Id
    objectId: Id
    referenceId: Id
    linkTag: Id
    linkType: Literal["dependent", "independent"]
    separateDependentLinkCreate: bool = False

    @field_validator("linkType", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def dependent(self) -> bool:
        return self.linkType == "dependent"


class Batch(_Strict):
    """A batch file as docs/interface.md (section 1) describes it."""

    batchId: Id | None = None
    linkTags: dict[str, LinkTagSpec] = Field(default_factory=dict)
    objects: list[ObjectSpec]
    references: list[ReferenceSpec] = Field(default_factory=list)
    links: list[LinkSpec] = Field(default_factory=list)


class ParentRef(TypedDict):
    linkId: str
    linkTag: str
    objectId: str
    identifierIds: Identifiers


class LinkEnd(TypedDict):
    objectId: str
    identifierIds: Identifiers


class CreateObject(TypedDict):
    kind: Literal["create-object"]
    batchId: str
    objectId: str
    objectType: str
    fields: dict[str, Any]
    idempotencyKey: str
    parents: list[ParentRef]


class CreateLink(TypedDict):
    kind: Literal["create-link"]
    batchId: str
    linkId: str
    linkTag: str
    idempotencyKey: str
    child: LinkEnd
    parent: LinkEnd


class Counts(TypedDict):
    total: int
    byStatus: dict[str, int]


class BatchComplete(TypedDict):
    kind: Literal["batch-complete"]
    batchId: str
    status: str
    idempotencyKey: str
    objects: Counts
    links: Counts


Message = CreateObject | CreateLink | BatchComplete


class ValidationIssue(TypedDict, total=False):
    code: str
    message: str
    linkId: str
    objectId: str
    referenceId: str
    linkTag: str
    cycle: list[str]
    linkIds: list[str]


@dataclass(frozen=True)
class Claim:
    """An item a worker now owns: ``message`` is None for an existing object, which completes
    without dispatch, carrying ``identifierIds`` of its own."""

    kind: ItemKind
    item_id: str
    attempt: int
    message: CreateObject | CreateLink | None
    identifierIds: Identifiers | None = None


@dataclass(frozen=True)
class Outcome:
    """What recording a completion or failure did: ``changed`` False with ``status`` the item's
    status when nothing changed (already complete, or not awaiting)."""

    kind: ItemKind
    item_id: str
    changed: bool
    status: str | None  # None: no such item


@dataclass
class BatchStatus:
    batchId: str
    status: str
    objects: dict[str, int]
    links: dict[str, int]
    errors: list[ValidationIssue]
    objectList: list[dict[str, Any]] | None = None
    linkList: list[dict[str, Any]] | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    batchComplete: str | None = None  # 'owed' | 'delivered' once the batch finished
    finishes: int = 0  # how many times it finished (more than once after a retry)

    def counts(self) -> tuple[Counts, Counts]:
        return (
            {"total": sum(self.objects.values()), "byStatus": dict(self.objects)},
            {"total": sum(self.links.values()), "byStatus": dict(self.links)},
        )

    def to_json(self) -> dict[str, Any]:
        objects, links = self.counts()
        out: dict[str, Any] = {
            "batchId": self.batchId,
            "status": self.status,
            "objects": objects,
            "links": links,
            "errors": list(self.errors),
        }
        if self.batchComplete is not None:
            out["batchComplete"] = self.batchComplete
        if self.failures:
            out["failures"] = self.failures
        if self.objectList is not None:
            out["objectList"] = self.objectList
        if self.linkList is not None:
            out["linkList"] = self.linkList
        return out


def identifier_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a created object's identifierIds, or None when it can.

    IdentifierIds are a non-empty JSON object whose values are strings, numbers (finite) or
    booleans: they are what the object's children and links receive.
    """
    if not isinstance(value, dict):
        return f"expected an object of identifierIds, got {json_kind(value)}"
    if not value:
        return "returned no identifierIds (an empty object)"
    for key, item in value.items():
        if type(key) is str and type(item) is str:  # nearly every pair: the checks below pass
            continue
        if not isinstance(key, str):
            return f"identifierIds key {key!r} is not a string"
        if isinstance(item, float) and not math.isfinite(item):
            return f"identifierIds value of {key!r} is {item!r}, not a JSON number"
        if not isinstance(item, str | int | float | bool):
            return (
                f"identifierIds value of {key!r} is {json_kind(item)}; "
                "only strings, numbers and booleans are allowed"
            )
    return None
