"""Batch files (JSON, or CSV in a folder or zip) -> ``Batch``; every way a file can be unusable
becomes one ``InputError`` that names the file and the place in it.

CSV columns (header row required, UTF-8):

- ``objects.csv``: objectId, objectType, fields (JSON object, may be empty),
  identifierIds (JSON object; empty = the object does not exist yet)
- ``references.csv``: referenceId, objectId
- ``links.csv``: linkId, objectId, referenceId, linkTag, linkType,
  separateDependentLinkCreate (true/false, empty = false)
- ``link_tags.csv``: linkTag, childType, parentType

Only ``objects.csv`` is required; a CSV batch gets its id from ``--batch-id`` or a generated one.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import lzma
import math
import re
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .errors import InputError
from .models import Batch, Id
from .text import json_kind, shown

__all__ = ["batch_from_dict", "load_batch", "new_batch_id", "read_batch"]

CSV_FILES = {
    "objects": ("objects.csv", ["objectId", "objectType", "fields", "identifierIds"]),
    "references": ("references.csv", ["referenceId", "objectId"]),
    "links": (
        "links.csv",
        ["linkId", "objectId", "referenceId", "linkTag", "linkType", "separateDependentLinkCreate"],
    ),
    "linkTags": ("link_tags.csv", ["linkTag", "childType", "parentType"]),
}
_REQUIRED_CSV_COLUMNS = {
    "objects": {"objectId", "objectType"},
    "references": {"referenceId", "objectId"},
    "links": {"linkId", "objectId", "referenceId", "linkTag", "linkType"},
    "linkTags": {"linkTag", "childType", "parentType"},
}


def new_batch_id() -> str:
    return f"batch-{uuid.uuid4().hex[:12]}"


def load_batch(path: str | Path, batch_id: str | None = None) -> Batch:
    """Read and check a batch file; ``batch_id`` overrides the file's. The result always has an id."""
    return read_batch(path, batch_id)[0]


def read_batch(path: str | Path, batch_id: str | None = None) -> tuple[Batch, dict[int, str] | None]:
    """As ``load_batch``, with the place of each link in the file when it is not ``links[i]``
    (CSV lines), for validation messages."""
    p = Path(path)
    source = str(path)
    places: dict[int, str] | None = None
    if p.is_dir():
        batch, places = _from_csv(source, _dir_reader(p))
    elif p.is_file() and zipfile.is_zipfile(p):
        try:
            zf = zipfile.ZipFile(p)
        except _ZIP_ERRORS as exc:
            raise InputError(source, "", f"cannot read zip archive: {exc or type(exc).__name__}") from None
        with zf:
            batch, places = _from_csv(source, _zip_reader(zf, source))
    else:
        gc_was_enabled = gc.isenabled()
        gc.disable()  # parsing allocates a million containers and frees none: no collector passes
        try:
            batch = batch_from_dict(_read_json(p, source), source)
        finally:
            if gc_was_enabled:
                gc.enable()
    if batch_id is not None:
        batch = batch.model_copy(update={"batchId": _check_batch_id(batch_id, source)})
    elif batch.batchId is None:
        batch = batch.model_copy(update={"batchId": new_batch_id()})
    return batch, places


def batch_from_dict(data: Any, source: str = "<batch>", places: _Places | None = None) -> Batch:
    """Validate parsed data; ``places`` maps (section, index) to a better place name (CSV lines)."""
    if not isinstance(data, dict):
        raise InputError(source, "", f"expected a JSON object at the top, got {json_kind(data)}")
    try:
        batch = Batch.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        place = _place(err["loc"], data, places)
        more = exc.error_count() - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise InputError(source, place, _problem(err) + suffix) from None
    _check_unique(batch, source, data, places)
    return batch


_Places = Mapping[tuple[str, int], str]

_ID = TypeAdapter(Id)


def _check_batch_id(batch_id: str, source: str) -> str:
    """``--batch-id`` bypasses the model: the same rules as a batchId in the file."""
    if not batch_id:
        raise InputError(source, "--batch-id", "the batch id must not be empty")
    if not _encodable(batch_id):
        raise InputError(source, "--batch-id", f"{batch_id!r} is not valid UTF-8 text")
    try:
        _ID.validate_python(batch_id, strict=True)
    except ValidationError as exc:
        raise InputError(source, "--batch-id", _problem(exc.errors()[0])) from None
    return batch_id


# a lone UTF-16 surrogate (JSON text may escape one, "\ud800"): valid JSON, not valid Unicode,
# so neither UTF-8 output nor Neo4j can carry it
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class _BadNumber(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _BadNumber(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _BadNumber(f"number {text} is out of range")
    return value


def _json_loads(text: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers beyond a double are refused (they would come back
    out as NaN/Infinity, which no JSON reader accepts)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lone_surrogate(data: Any) -> tuple[list[int | str], str] | None:
    """The path to the first string (key or value) with a lone surrogate, and that string."""
    stack: list[tuple[list[int | str], Any]] = [([], data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if not _encodable(node):
                return path, node
        elif isinstance(node, dict):
            for key in node:
                if not _encodable(key):
                    return [*path, _printable(key)], key
            stack.extend(([*path, k], v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend(([*path, i], v) for i, v in reversed(list(enumerate(node))))
    return None


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogate_problem(text: str) -> str:
    char = next(c for c in text if not _encodable(c))
    return f"{_printable(char)} is a lone surrogate, not valid Unicode text"


def _read_json(p: Path, source: str) -> Any:
    try:
        raw = p.read_bytes()
    except IsADirectoryError:
        raise InputError(source, "", "is a directory without objects.csv") from None
    except OSError as exc:
        raise InputError(source, "", f"cannot read file: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise InputError(source, "", f"cannot read file: {exc}") from None
    if not raw.strip():
        raise InputError(source, "", "file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"byte {exc.start}", "not valid UTF-8") from None
    try:
        data = _json_loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            source, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}"
        ) from None
    except _BadNumber as exc:
        raise InputError(source, "", f"invalid JSON: {exc}") from None
    except RecursionError:
        raise InputError(source, "", "invalid JSON: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        found = _lone_surrogate(data)
        if found is not None:
            loc, value = found
            raise InputError(source, _place(loc, data, None), _surrogate_problem(value))
    return data


def _problem(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        return f"must be 'dependent' or 'independent', got {err['input']!r}"
    if kind == "string_too_short":
        return "must not be empty"
    return f"{err['msg'].lower()}, got {json_kind(err['input'])}"


def _place(loc: Sequence[int | str], data: Any, places: _Places | None) -> str:
    """('links', 3, 'linkTag') -> 'links[3] (linkId "l4"): linkTag', or a CSV line."""
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(loc[0], str):
        section, index = loc[0], loc[1]
        rest = ".".join(shown(x) for x in loc[2:])
        if places and (section, index) in places:
            head = places[(section, index)]
        else:
            head = f"{section}[{index}]"
            ident = _ident(data, section, index)
            if ident:
                head += f" ({ident})"
        return f"{head}: {rest}" if rest else head
    return ".".join(shown(x) for x in loc) or "top level"


def _ident(data: Any, section: str, index: int) -> str:
    key = {"objects": "objectId", "links": "linkId", "references": "referenceId"}.get(section)
    try:
        value = data[section][index][key]
    except (KeyError, IndexError, TypeError):
        return ""
    return f"{key} {value!r}" if isinstance(value, str) else ""


def _check_unique(batch: Batch, source: str, data: Any, places: _Places | None) -> None:
    def first_dup(section: str, ids: Iterable[str], key: str) -> None:
        seen: dict[str, int] = {}
        for i, value in enumerate(ids):
            if value in seen:
                first = _place((section, seen[value]), data, places).split(" (")[0]
                raise InputError(
                    source,
                    _place((section, i, key), data, places),
                    f"duplicate {key} {value!r} (first at {first})",
                )
            seen[value] = i

    first_dup("objects", (o.objectId for o in batch.objects), "objectId")
    first_dup("links", (link.linkId for link in batch.links), "linkId")
    first_dup("references", (r.referenceId for r in batch.references), "referenceId")
    object_ids = {o.objectId for o in batch.objects}
    for i, ref in enumerate(batch.references):
        if ref.referenceId in object_ids and ref.referenceId != ref.objectId:
            raise InputError(
                source,
                _place(("references", i, "referenceId"), data, places),
                f"referenceId {ref.referenceId!r} is also the objectId of another object",
            )


# --- CSV ------------------------------------------------------------------------------------


def _dir_reader(folder: Path) -> _Reader:
    def read(name: str) -> str | None:
        f = folder / name
        if not f.exists():
            return None
        try:
            return f.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise InputError(str(f), "", f"cannot read file: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(str(f), f"byte {exc.start}", "not valid UTF-8") from None

    return read


def _zip_reader(zf: zipfile.ZipFile, source: str) -> _Reader:
    # members may sit in one top folder, as zipping a folder produces
    members = {Path(n).name: n for n in zf.namelist() if not n.endswith("/")}

    def read(name: str) -> str | None:
        if name not in members:
            return None
        try:
            return zf.read(members[name]).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source}/{name}", f"byte {exc.start}", "not valid UTF-8") from None
        except _ZIP_ERRORS as exc:
            problem = f"cannot read zip member: {exc or type(exc).__name__}"
            raise InputError(f"{source}/{name}", "", problem) from None

    return read


# what zipfile raises on a damaged or unsupported archive (encrypted: RuntimeError)
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
)

_Reader = Any  # Callable[[str], str | None]; Any keeps mypy quiet about the closure types


def _from_csv(source: str, read: _Reader) -> tuple[Batch, dict[int, str]]:
    data: dict[str, Any] = {}
    places: dict[tuple[str, int], str] = {}
    for section, (name, _columns) in CSV_FILES.items():
        text = read(name)
        if text is None:
            if section == "objects":
                raise InputError(source, "", "no objects.csv (a CSV batch needs at least that file)")
            continue
        where = f"{source}/{name}"
        rows = _csv_rows(text, where, section)
        if section == "linkTags":
            tags: dict[str, Any] = {}
            for line, row in rows:
                tag = row.pop("linkTag")
                if tag in tags:
                    raise InputError(where, f"line {line}", f"duplicate linkTag {tag!r}")
                tags[tag] = row
                places[("linkTags", len(tags) - 1)] = f"{name} line {line}"
            data["linkTags"] = tags
            continue
        items: list[dict[str, Any]] = []
        for line, row in rows:
            places[(section, len(items))] = f"{name} line {line}"
            items.append(_csv_types(row, where, line, section))
        data[section] = items
    batch = batch_from_dict(data, source, places)
    return batch, {i: place for (section, i), place in places.items() if section == "links"}


def _csv_rows(text: str, where: str, section: str) -> list[tuple[int, dict[str, str]]]:
    if not text.strip():
        raise InputError(where, "", "file is empty (a header row is required)")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise InputError(where, "line 1", f"invalid CSV: {exc}") from None
    missing = _REQUIRED_CSV_COLUMNS[section] - set(header)
    if missing:
        raise InputError(where, "line 1", f"missing column(s): {', '.join(sorted(missing))}")
    known = set(CSV_FILES[section][1])
    unknown = [h for h in header if h not in known]
    if unknown:
        raise InputError(where, "line 1", f"unknown column(s): {', '.join(map(shown, unknown))}")
    out = []
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise InputError(where, f"line {line}", "wrong number of columns")
            if not any(row.values()):
                continue
            out.append((line, dict(row)))
    except csv.Error as exc:
        raise InputError(where, f"line {reader.line_num}", f"invalid CSV: {exc}") from None
    return out


def _csv_types(row: dict[str, str], where: str, line: int, section: str) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for key in ("fields", "identifierIds"):
        if key in out:
            raw = out.pop(key).strip()
            if raw:
                try:
                    out[key] = _json_loads(raw)
                except (json.JSONDecodeError, _BadNumber, RecursionError):
                    raise InputError(where, f"line {line}", f"column {key}: not valid JSON") from None
                if _SURROGATE_ESCAPE.search(raw) and (found := _lone_surrogate(out[key])):
                    raise InputError(where, f"line {line}", f"column {key}: {_surrogate_problem(found[1])}")
    if section == "links" and "separateDependentLinkCreate" in out:
        raw = out.pop("separateDependentLinkCreate").strip().lower()
        if raw in ("true", "1", "yes"):
            out["separateDependentLinkCreate"] = True
        elif raw in ("false", "0", "no", ""):
            out["separateDependentLinkCreate"] = False
        else:
            raise InputError(
                where,
                f"line {line}",
                f"column separateDependentLinkCreate: expected true or false, got {raw!r}",
            )
    return out
