"""A batch as CSV files in a folder or a zip, read row by row.

CSV columns (header row required, UTF-8):

- ``objects.csv``: objectId, objectType, fields (JSON object, may be empty),
  identifierIds (JSON object; empty = the object does not exist yet)
- ``references.csv``: referenceId, objectId
- ``links.csv``: linkId, objectId, referenceId, linkTag, linkType,
  separateDependentLinkCreate (true/false, empty = false)
- ``link_tags.csv``: linkTag, childType, parentType

Only ``objects.csv`` is required; a CSV batch gets its id from ``--batch-id`` or a generated one.
In a zip the files may sit in a folder (as zipping a folder makes them), each name once.
"""

from __future__ import annotations

import csv
import json
import lzma
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from ..errors import InputError
from ..text import shown
from .limits import CappedReader, Limits, grew_past, open_regular, too_big
from .problems import (
    SURROGATE_ESCAPE,
    BadInteger,
    BadNumber,
    DuplicateKey,
    json_loads,
    lone_surrogate,
    surrogate_problem,
)
from .sources import START, Element, Item
from .text_reader import ByteReader, Utf8Chunks, csv_lines

__all__ = ["CSV_FILES", "CsvSource"]

CSV_FILES = {
    "objects": ("objects.csv", ["objectId", "objectType", "fields", "identifierIds"]),
    "references": ("references.csv", ["referenceId", "objectId"]),
    "links": (
        "links.csv",
        ["linkId", "objectId", "referenceId", "linkTag", "linkType", "separateDependentLinkCreate"],
    ),
    "linkTags": ("link_tags.csv", ["linkTag", "childType", "parentType"]),
}
_REQUIRED = {
    "objects": {"objectId", "objectType"},
    "references": {"referenceId", "objectId"},
    "links": {"linkId", "objectId", "referenceId", "linkTag", "linkType"},
    "linkTags": {"linkTag", "childType", "parentType"},
}
_NAMES = {name for name, _ in CSV_FILES.values()}

# what zipfile raises on a damaged or unsupported archive (encrypted: RuntimeError)
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
)

_Opener = Callable[[str], ByteReader | None]


class CsvSource:
    checks_input = True
    names_places = True
    top_problem: InputError | None = None

    def __init__(self, name: str, path: Path, zip_name: str | None, caps: Limits) -> None:
        self.name = name
        self._path = path
        self._zip = zip_name is not None
        self._caps = caps
        self._stamps: dict[str, tuple[int, ...]] = {}

    def items(self, sections: Iterable[str] | None = None) -> Iterator[Item]:
        with self._members() as open_member:
            for section in CSV_FILES if sections is None else sections:
                yield from self._rows(open_member, section)

    def place_of(self, section: str, index: int) -> str:
        for item in self.items([section]):
            for i, _, _, at in item.value:
                if i == index and at is not None:
                    return str(at)
        return f"{section}[{index}]"

    def _stamped(self, name: str, fh: Any) -> None:
        info = os.fstat(fh.fileno())
        stamp = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if self._stamps.setdefault(name, stamp) != stamp:
            raise InputError(name, "", "the file changed while it was being loaded")

    @contextmanager
    def _members(self) -> Iterator[_Opener]:
        if not self._zip:
            opened: list[Any] = []

            def open_file(name: str) -> ByteReader | None:
                f = self._path / name
                if not f.exists():
                    return None
                fh = open_regular(str(f), str(f), self._caps.file_bytes)
                opened.append(fh)
                self._stamped(str(f), fh)
                return CappedReader(fh, str(f), self._caps.file_bytes, "RESOLVER_MAX_FILE_BYTES", "file grew")

            try:
                yield open_file
            finally:
                for fh in opened:
                    fh.close()
            return
        with open_regular(self.name, self.name, self._caps.file_bytes) as fh:
            self._stamped(self.name, fh)
            try:
                zf = zipfile.ZipFile(fh)
            except ZIP_ERRORS as exc:
                raise InputError(
                    self.name, "", f"cannot read zip archive: {exc or type(exc).__name__}"
                ) from None
            with zf:
                yield self._zip_opener(zf)

    def _zip_opener(self, zf: zipfile.ZipFile) -> _Opener:
        caps = self._caps
        infos = zf.infolist()
        declared = sum(i.file_size for i in infos)
        if declared > caps.zip_bytes:
            raise InputError(
                self.name,
                "",
                too_big(declared, caps.zip_bytes, "RESOLVER_MAX_ZIP_BYTES", "the zip inflates to"),
            )
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            base = Path(info.filename).name
            if info.is_dir() or base not in _NAMES:
                continue
            if base in members:
                raise InputError(
                    self.name,
                    "",
                    f"two members named {base}: {members[base].filename!r} and {info.filename!r}",
                )
            if info.file_size > caps.member_bytes:
                where = f"{self.name}/{base}"
                raise InputError(
                    where,
                    "",
                    too_big(info.file_size, caps.member_bytes, "RESOLVER_MAX_MEMBER_BYTES", "inflates to"),
                )
            members[base] = info
        inflated = [0]  # every member read in this pass, against the zip's cap

        def open_member(name: str) -> ByteReader | None:
            info = members.get(name)
            return None if info is None else _ZipMember(zf, info, f"{self.name}/{name}", caps, inflated)

        return open_member

    def _rows(self, open_member: _Opener, section: str) -> Iterator[Item]:
        name, columns = CSV_FILES[section]
        raw = open_member(name)
        if raw is None:
            if section == "objects":
                raise InputError(self.name, "", "no objects.csv (a CSV batch needs at least that file)")
            return
        where = f"{self.name}/{name}"
        chunks = Utf8Chunks(raw, where)

        def fail(line: int, problem: str) -> NoReturn:
            chunks.drain()  # a byte that is not UTF-8 later in the file is named first, as ever
            raise InputError(where, f"line {line}", problem)

        lines = _Lines(chunks)
        reader = csv.DictReader(lines, strict=True)
        try:
            header = reader.fieldnames or []
        except csv.Error as exc:
            fail(reader.reader.line_num, f"invalid CSV: {exc}")
        if not lines.text_seen and lines.blank_to_end():
            raise InputError(where, "", "file is empty (a header row is required)")
        missing = _REQUIRED[section] - set(header)
        if missing:
            fail(1, f"missing column(s): {', '.join(sorted(missing))}")
        unknown = [h for h in header if h not in columns]
        if unknown:
            fail(1, f"unknown column(s): {', '.join(map(shown, unknown))}")
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            fail(1, f"repeated column(s): {', '.join(repeated)}")
        elements = _elements(reader, section, name, fail)
        yield Item(section, START, elements)
        for _ in elements:
            pass


def _elements(
    reader: csv.DictReader[str], section: str, name: str, fail: Callable[[int, str], NoReturn]
) -> Iterator[Element]:
    # a bad cell or a repeated tag waits until every row has been split: a row of the wrong
    # shape anywhere in the file is named first, as when the file was split before it was typed
    late: tuple[int, str] | None = None
    tags: set[str] = set()
    index = 0
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                fail(line, "wrong number of columns")
            if late is not None or not any(row.values()):
                continue
            at = f"{name} line {line}"
            if section == "linkTags":
                tag = row.pop("linkTag")
                if tag in tags:
                    late = (line, f"duplicate linkTag {tag!r}")
                    continue
                tags.add(tag)
                yield index, row, tag, at
            else:
                try:
                    value = _typed(row, section)
                except _CellProblem as exc:
                    late = (line, str(exc))
                    continue
                yield index, value, None, at
            index += 1
    except csv.Error as exc:
        fail(reader.line_num, f"invalid CSV: {exc}")
    if late is not None:
        fail(*late)


class _Lines:
    """The file's lines for the csv module, noting whether any held more than whitespace (a
    file of only whitespace is 'empty', as ``text.strip()`` judged it)."""

    def __init__(self, chunks: Utf8Chunks) -> None:
        self._lines = csv_lines(chunks)
        self.text_seen = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if not self.text_seen and line.strip():
            self.text_seen = True
        return line

    def blank_to_end(self) -> bool:
        for line in self._lines:
            if line.strip():
                self.text_seen = True
                return False
        return True


class _ZipMember:
    """One member inflating, counted against its cap and the zip's; zipfile's errors worded."""

    def __init__(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, caps: Limits, total: list[int]
    ):
        self._zf, self._info, self._where, self._caps, self._total = zf, info, where, caps, total
        self._fh: Any = None
        self._count = 0

    def read(self, n: int = -1) -> bytes:
        try:
            if self._fh is None:
                self._fh = self._zf.open(self._info)
            data: bytes = self._fh.read(n)
        except ZIP_ERRORS as exc:
            raise InputError(
                self._where, "", f"cannot read zip member: {exc or type(exc).__name__}"
            ) from None
        self._count += len(data)
        self._total[0] += len(data)
        if self._count > self._caps.member_bytes:
            raise InputError(
                self._where, "", grew_past(self._caps.member_bytes, "RESOLVER_MAX_MEMBER_BYTES", "inflates")
            )
        if self._total[0] > self._caps.zip_bytes:
            raise InputError(
                self._where, "", grew_past(self._caps.zip_bytes, "RESOLVER_MAX_ZIP_BYTES", "the zip inflates")
            )
        return data


class _CellProblem(ValueError):
    pass


def _typed(row: dict[str, str], section: str) -> dict[str, Any]:
    """A row's cells as the model's types: JSON for fields and identifierIds, a boolean."""
    out: dict[str, Any] = dict(row)
    for key in ("fields", "identifierIds"):
        if key in out:
            raw = out.pop(key).strip()
            if raw:
                try:
                    out[key] = json_loads(raw)
                except (json.JSONDecodeError, BadNumber, RecursionError):
                    raise _CellProblem(f"column {key}: not valid JSON") from None
                except DuplicateKey as exc:
                    raise _CellProblem(f"column {key}: duplicate key {exc.key!r}") from None
                except BadInteger as exc:
                    raise _CellProblem(f"column {key}: {exc}") from None
                if SURROGATE_ESCAPE.search(raw) and (found := lone_surrogate(out[key])):
                    raise _CellProblem(f"column {key}: {surrogate_problem(found[1])}")
    if section == "links" and "separateDependentLinkCreate" in out:
        raw = out.pop("separateDependentLinkCreate").strip().lower()
        if raw in ("true", "1", "yes"):
            out["separateDependentLinkCreate"] = True
        elif raw in ("false", "0", "no", ""):
            out["separateDependentLinkCreate"] = False
        else:
            raise _CellProblem(f"column separateDependentLinkCreate: expected true or false, got {raw!r}")
    return out
