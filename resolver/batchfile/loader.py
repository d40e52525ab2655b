"""Batch files (JSON, or CSV in a folder or zip) in: a ``LoadPlan`` for a store (``open_plan``,
memory flat however big the file), or a ``Batch`` in memory for API users (``load_batch``).
Every way a file can be unusable becomes one ``InputError`` that names the file and the place in
it, found before anything is stored.

The readers are ``json_source`` and ``csv_source`` (which documents the CSV columns); the two
passes over them are ``plan``; what a file may be (regular, how big) is ``limits``.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..errors import InputError
from ..models import Batch, Id
from .limits import limits, regular_file_problem
from .plan import LoadPlan, check, new_batch_id
from .problems import encodable, problem
from .sources import START, BatchSource, DictSource

__all__ = ["batch_from_dict", "load_batch", "new_batch_id", "open_plan", "open_source", "read_batch"]

_ID = TypeAdapter(Id)
_SECTIONS = ("linkTags", "objects", "references", "links")


def open_plan(path: str | Path, batch_id: str | None = None) -> LoadPlan:
    """Check a batch file all through (pass 1, nothing kept but what loading needs) and plan
    its load; ``batch_id`` overrides the file's. Raises InputError when it is unusable."""
    source = open_source(path)
    plan = check(source)
    if batch_id is not None:
        plan.batch_id = _check_batch_id(batch_id, source.name)
    return plan


def load_batch(path: str | Path, batch_id: str | None = None) -> Batch:
    """Read and check a batch file; ``batch_id`` overrides the file's. The result always has an id."""
    return read_batch(path, batch_id)[0]


def read_batch(path: str | Path, batch_id: str | None = None) -> tuple[Batch, dict[int, str] | None]:
    """As ``load_batch``, with the place of each link in the file when it is not ``links[i]``
    (CSV lines), for validation messages. Holds the whole batch: ``open_plan`` does not."""
    plan = open_plan(path, batch_id)
    data: dict[str, Any] = {"batchId": plan.batch_id}
    places: dict[int, str] = {}
    for item in plan.source.items(_SECTIONS):
        if item.mark != START:
            continue
        if item.section == "linkTags":
            data["linkTags"] = {tag: spec for _, spec, tag, _ in item.value}
            continue
        data[item.section] = elements = []
        for i, element, _, at in item.value:
            elements.append(element)
            if item.section == "links" and at is not None:
                places[i] = at
    return Batch.model_validate(data), places or None


def batch_from_dict(
    data: Any, source: str = "<batch>", places: Mapping[tuple[str, int], str] | None = None
) -> Batch:
    """Validate parsed data; ``places`` maps (section, index) to a better place name (CSV lines)."""
    check(DictSource(data, source, places))
    return Batch.model_validate(data)


def _check_batch_id(batch_id: str, source: str) -> str:
    """``--batch-id`` bypasses the model: the same rules as a batchId in the file."""
    if not batch_id:
        raise InputError(source, "--batch-id", "the batch id must not be empty")
    if not encodable(batch_id):
        raise InputError(source, "--batch-id", f"{batch_id!r} is not valid UTF-8 text")
    try:
        _ID.validate_python(batch_id, strict=True)
    except ValidationError as exc:
        raise InputError(source, "--batch-id", problem(exc.errors()[0])) from None
    return batch_id


def open_source(path: str | Path) -> BatchSource:
    """The source a path names: a folder (CSV), a zip (CSV) or a JSON file. Refused at once: a
    path that is no regular file or folder, a file over the size cap."""
    name = str(path)
    caps = limits()
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(name, "", f"cannot read file: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise InputError(name, "", f"cannot read file: {exc}") from None
    if stat.S_ISDIR(info.st_mode):
        from .csv_source import CsvSource

        return CsvSource(name, Path(path), None, caps)
    bad = regular_file_problem(info.st_mode)
    if bad:
        raise InputError(name, "", bad)
    from .limits import open_regular

    with open_regular(name, name, caps.file_bytes) as fh:
        is_zip = zipfile.is_zipfile(fh)
    if is_zip:
        from .csv_source import CsvSource

        return CsvSource(name, Path(path), name, caps)
    from .json_source import JsonFileSource

    return JsonFileSource(name, caps)
