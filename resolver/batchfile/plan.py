"""A batch in two passes over its source, so memory does not grow with the batch.

Pass 1 (``check``) reads everything and stores nothing: each element against its own model,
the ids unique, a reference not another object's id. It keeps only what pass 2 needs: how many
dependent parents each object waits for (an ``array('i')``), whether each link resolves (a
``bytearray``), the reference aliases, and, while it reads, objectId -> position (a dict) and a
64-bit hash per linkId (an ``array('q')``, sorted at the end; a hash seen twice sends the links
through once more, exactly, for the real duplicate). When links come before the objects or the
references in the file, they are resolved in one more pass over the links alone.

Pass 2 is ``LoadPlan``: each stage reads its section again and hands the store the rows
``plan_load`` always made (objects with unmet/status, references, resolved and unresolved links,
link tags), a chunk at a time.

Which problem is reported when a file has several is the one reading the whole file first used
to report: a byte that is not UTF-8, then a syntax error, then a lone surrogate, then a top
level that is no object, then the first pydantic error of the whole batch in field order (with
the count of the others), then duplicate ids.
"""

from __future__ import annotations

import json
import uuid
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from ..errors import InputError
from ..models import Batch, LinkSpec, LinkTagSpec, ObjectSpec, ReferenceSpec
from .problems import ident, place, problem
from .sources import START, WHOLE, BatchSource, Element, ModelSource, elements

__all__ = ["CHUNK", "LinkRows", "LoadPlan", "check", "new_batch_id", "plan_load"]

CHUNK = 10_000
_FIELD_RANK = {"batchId": 0, "linkTags": 1, "objects": 2, "references": 3, "links": 4}
_TAGS = TypeAdapter(dict[str, LinkTagSpec], config=ConfigDict(strict=True))
_SMALL = 200_000  # link ids up to this many are checked with a set; more with numpy


@dataclass
class LinkRows:
    """One chunk of links: ``resolved`` rows name both ends (childId, parentId), the others
    keep the raw ids (objectId, referenceId) for validation to report."""

    resolved: list[dict[str, Any]] = field(default_factory=list)
    unresolved: list[dict[str, Any]] = field(default_factory=list)


class LoadPlan:
    """What a store loads: counts first (the Batch node carries them), then the rows of each
    stage, read from the source chunk by chunk."""

    def __init__(
        self,
        source: BatchSource,
        batch_id: str,
        unmet: array[int],
        resolved: bytearray,
        aliases: dict[str, str],
    ) -> None:
        self.source = source
        self.batch_id = batch_id
        self.object_count = len(unmet)
        self.link_count = len(resolved)
        self._unmet = unmet
        self._resolved = resolved
        self._aliases = aliases

    @property
    def source_names_places(self) -> bool:
        """Whether the file names its links itself (CSV lines); else a link is ``links[ord]``."""
        return self.source.names_places

    def elements(self, section: str) -> Iterator[Element]:
        return elements(self.source, section)

    def link_tags(self) -> Iterator[list[dict[str, Any]]]:
        rows = (
            {"linkTag": tag, "childType": spec["childType"], "parentType": spec["parentType"]}
            for _, spec, tag, _ in self.elements("linkTags")
        )
        return _chunks(rows)

    def objects(self) -> Iterator[list[dict[str, Any]]]:
        unmet = self._unmet
        dumps = json.dumps

        def rows() -> Iterator[dict[str, Any]]:
            for i, o, _, _ in self.elements("objects"):
                ids = o.get("identifierIds")
                fields = o.get("fields")
                waiting = unmet[i]
                yield {
                    "objectId": o["objectId"],
                    "objectType": o["objectType"],
                    "fields": dumps(fields, ensure_ascii=False) if fields else "{}",
                    "identifierIds": None if ids is None else dumps(ids),
                    "existing": ids is not None,
                    "unmet": waiting,
                    "status": "waiting" if waiting else "ready",
                    "ord": i,
                }

        return _chunks(rows())

    def references(self) -> Iterator[list[dict[str, Any]]]:
        rows = (
            {"referenceId": r["referenceId"], "objectId": r["objectId"]}
            for _, r, _, _ in self.elements("references")
        )
        return _chunks(rows)

    def links(self) -> Iterator[LinkRows]:
        resolved, aliases = self._resolved, self._aliases
        chunk = LinkRows()
        n = 0
        for i, link, _, at in self.elements("links"):
            dependent = link["linkType"].lower() == "dependent"
            row: dict[str, Any] = {
                "linkId": link["linkId"],
                "linkTag": link["linkTag"],
                "dependent": dependent,
                "separate": dependent and bool(link.get("separateDependentLinkCreate", False)),
                "place": at or f"links[{i}]",
                "ord": i,
            }
            ref = link["referenceId"]
            if resolved[i]:
                row["childId"] = link["objectId"]
                row["parentId"] = aliases.get(ref) or ref
                chunk.resolved.append(row)
            else:
                row["objectId"] = link["objectId"]
                row["referenceId"] = ref
                chunk.unresolved.append(row)
            n += 1
            if n == CHUNK:
                yield chunk
                chunk, n = LinkRows(), 0
        if n:
            yield chunk


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def plan_load(batch: Batch, places: Mapping[int, str] | None = None) -> LoadPlan:
    """The plan of a ``Batch`` in memory (pydantic checked it): resolution only."""
    assert batch.batchId is not None
    return check(ModelSource(batch, places), batch.batchId)


def new_batch_id() -> str:
    return f"batch-{uuid.uuid4().hex[:12]}"


def check(source: BatchSource, batch_id: str | None = None) -> LoadPlan:
    """Pass 1 over ``source``: an InputError for the first problem, else the plan. The batch id
    is ``batch_id``, else the file's, else a new one."""
    return _Check(source).run(batch_id)


class _Check:
    def __init__(self, source: BatchSource) -> None:
        self.source = source
        self.checking = source.checks_input
        self.skeleton: dict[str, Any] = {}  # the top level, each list or map emptied
        # the first pydantic problem by (field rank, position), and how many there are
        self.first: tuple[tuple[int, int], str, str] | None = None
        self.problems = 0
        self.duplicate: dict[str, tuple[int, int, str, str]] = {}  # section -> first duplicate
        self.index: dict[str, int] = {}  # objectId -> position
        self.refs: dict[str, tuple[str, int, str | None]] = {}  # referenceId -> objectId, position, place
        self.aliases: dict[str, str] | None = None  # made when the first link is resolved
        self.link_hashes: array[int] = array("q")
        self.unmet: array[int] = array("i")
        self.resolved = bytearray()
        self.done: set[str] = set()
        self.relink = False  # links were read before objects or references: resolve again

    def run(self, batch_id: str | None) -> LoadPlan:
        sections = {
            "objects": self._objects,
            "references": self._references,
            "links": self._links,
            "linkTags": self._link_tags,
        }
        for section, mark, value, key in self.source.items():
            if mark == START:
                if section in ("objects", "references") and self.aliases is not None:
                    self.relink = True  # links already resolved without these
                self.skeleton[section] = {} if section == "linkTags" else []
                sections[section](value)
                self.done.add(section)
            elif mark == WHOLE:
                self.skeleton[key or section] = value
            else:
                self.skeleton["batchId"] = value
        if self.source.top_problem is not None:
            raise self.source.top_problem
        if self.checking:
            self._raise_first_problem()
        if self.relink:
            self._resolve_again()
        if self.checking:
            self._check_unique()
        aliases = self.aliases if self.aliases is not None else self._aliases()
        self.index = {}  # what pass 2 does not need goes before it starts
        self.refs = {}
        file_id = self.skeleton.get("batchId")
        chosen = batch_id or (file_id if isinstance(file_id, str) else None) or new_batch_id()
        return LoadPlan(self.source, chosen, self.unmet, self.resolved, aliases)

    # -- sections ------------------------------------------------------------------------------

    def _problem(self, section: str, i: int, element: Any, at: str | None, exc: ValidationError) -> None:
        self.problems += exc.error_count()
        rank = (_FIELD_RANK[section], i)
        if self.first is not None and self.first[0] <= rank:
            return
        err = exc.errors()[0]
        if section == "linkTags":
            where = place(("linkTags", *err["loc"]))
        else:
            where = place((section, i, *err["loc"]), at, ident(section, element))
        self.first = (rank, where, problem(err))

    def _objects(self, elements: Iterator[Element]) -> None:
        validate = ObjectSpec.__pydantic_validator__.validate_python if self.checking else None
        index, unmet = self.index, self.unmet
        for i, o, _, at in elements:
            unmet.append(0)
            if validate is not None:
                try:
                    validate(o)
                except ValidationError as exc:
                    self._problem("objects", i, o, at, exc)
                    continue
                if self.problems:
                    continue  # nothing will be stored: only counting goes on
            first = index.setdefault(o["objectId"], i)
            if first != i and "objects" not in self.duplicate:
                where = place(("objects", i, "objectId"), at, ident("objects", o))
                self.duplicate["objects"] = (i, first, where, f"duplicate objectId {o['objectId']!r}")

    def _references(self, elements: Iterator[Element]) -> None:
        validate = ReferenceSpec.__pydantic_validator__.validate_python if self.checking else None
        refs = self.refs
        for i, r, _, at in elements:
            if validate is not None:
                try:
                    validate(r)
                except ValidationError as exc:
                    self._problem("references", i, r, at, exc)
                    continue
                if self.problems:
                    continue
            ref_id = r["referenceId"]
            known = refs.setdefault(ref_id, (r["objectId"], i, at))
            if known[1] != i and "references" not in self.duplicate:
                where = place(("references", i, "referenceId"), at, ident("references", r))
                self.duplicate["references"] = (i, known[1], where, f"duplicate referenceId {ref_id!r}")

    def _links(self, elements: Iterator[Element]) -> None:
        validate = LinkSpec.__pydantic_validator__.validate_python if self.checking else None
        hashes, resolved = self.link_hashes, self.resolved
        if self.aliases is None:
            if "objects" in self.done:
                self.aliases = self._aliases()
            else:
                self.relink = True  # the objects come later: resolved in one more pass
        aliases, index, unmet = self.aliases, self.index, self.unmet
        for i, link, _, at in elements:
            if validate is not None:
                try:
                    validate(link)
                except ValidationError as exc:
                    self._problem("links", i, link, at, exc)
                    resolved.append(0)
                    continue
                hashes.append(hash(link["linkId"]))
            if aliases is None:
                resolved.append(0)
                continue
            child = index.get(link["objectId"])
            ref = link["referenceId"]
            if child is None or (ref not in aliases and ref not in index):
                resolved.append(0)
                continue
            resolved.append(1)
            if link["linkType"].lower() == "dependent":
                unmet[child] += 1

    def _link_tags(self, elements: Iterator[Element]) -> None:
        for i, spec, tag, _ in elements:
            if self.checking:
                try:
                    _TAGS.validate_python({tag: spec})
                except ValidationError as exc:
                    self._problem("linkTags", i, spec, None, exc)

    # -- links -----------------------------------------------------------------------------------

    def _aliases(self) -> dict[str, str]:
        index = self.index
        return {ref: obj for ref, (obj, _, _) in self.refs.items() if obj in index}

    def _resolve_again(self) -> None:
        """The links once more, now that every object and reference is known."""
        self.aliases = aliases = self._aliases()
        index = self.index
        self.unmet = unmet = array("i", [0]) * len(self.unmet)
        resolved = self.resolved
        for i, link, _, _ in elements(self.source, "links"):
            child = index.get(link["objectId"])
            ref = link["referenceId"]
            ok = child is not None and (ref in aliases or ref in index)
            resolved[i] = ok
            if ok and link["linkType"].lower() == "dependent":
                unmet[child] += 1  # type: ignore[index]

    # -- the verdict -----------------------------------------------------------------------------

    def _raise_first_problem(self) -> None:
        try:
            Batch.model_validate(self.skeleton)
        except ValidationError as exc:
            self.problems += exc.error_count()
            err = exc.errors()[0]
            rank = (_FIELD_RANK.get(str(err["loc"][0]), len(_FIELD_RANK)), -1)
            if self.first is None or rank < self.first[0]:
                self.first = (rank, place(err["loc"]), problem(err))
        if self.first is None:
            return
        _, where, what = self.first
        more = self.problems - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise InputError(self.source.name, where, what + suffix)

    def _check_unique(self) -> None:
        found = dict(self.duplicate)
        link_dup = self._duplicate_link()
        if link_dup is not None:
            found["links"] = link_dup
        for section in ("objects", "links", "references"):
            if section in found:
                _, first, where, what = found[section]
                first_place = self.source.place_of(section, first)
                raise InputError(self.source.name, where, f"{what} (first at {first_place})")
        for ref, (obj, i, at) in self.refs.items():
            if ref in self.index and ref != obj:
                where = place(("references", i, "referenceId"), at, f"referenceId {ref!r}")
                raise InputError(
                    self.source.name, where, f"referenceId {ref!r} is also the objectId of another object"
                )

    def _duplicate_link(self) -> tuple[int, int, str, str] | None:
        """The first link whose linkId an earlier one has. Hashes first, sorted in place (no
        copy of 2M ids or of their hashes); only when a hash is seen twice are the links read
        again, for the ids behind it (two ids may share a hash)."""
        hashes = self.link_hashes
        self.link_hashes = array("q")
        if len(hashes) < _SMALL:
            counts: dict[int, int] = {}
            for h in hashes:
                counts[h] = counts.get(h, 0) + 1
            shared = {h for h, n in counts.items() if n > 1}
        else:
            import numpy as np

            view = np.frombuffer(hashes, dtype=np.int64)
            view.sort()
            same = view[1:] == view[:-1]
            shared = {int(h) for h in view[1:][same]}
            del view, same
        del hashes
        if not shared:
            return None
        seen: dict[str, int] = {}
        for i, link, _, at in elements(self.source, "links"):
            link_id = link["linkId"]
            if hash(link_id) in shared:
                if link_id in seen:
                    where = place(("links", i, "linkId"), at, f"linkId {link_id!r}")
                    return (i, seen[link_id], where, f"duplicate linkId {link_id!r}")
                seen[link_id] = i
        return None
