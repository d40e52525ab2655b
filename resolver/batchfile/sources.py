"""Where a batch comes from, read as a stream of items that can be read again: a JSON file, a
CSV folder or zip, a parsed dict, or a ``Batch`` an API user built.

A source yields ``Item``s in its own order (a JSON file's members come in any order). The first
full read (``items()``) is the one that checks; later reads (``items([section, ...])``) give the
named sections again, in the order asked, and a file source goes straight to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

from ..errors import InputError
from ..text import json_kind

__all__ = [
    "LIST_SECTIONS",
    "START",
    "WHOLE",
    "BatchSource",
    "DictSource",
    "Element",
    "Item",
    "ModelSource",
    "elements",
]

LIST_SECTIONS = ("objects", "references", "links")
START = -2  # the section is there, with the right shape: ``value`` iterates its elements
WHOLE = -1  # the section (or an unknown key) is there with a value of the wrong shape

# (index, value, key, place): ``key`` is a linkTags entry's tag; ``place`` the file's own name
# for the element (a CSV line) when it is not ``section[index]``
Element = tuple[int, Any, str | None, str | None]


class Item(NamedTuple):
    """``section`` is 'batchId', 'linkTags', 'objects', 'references', 'links', or '' for an
    unknown top-level key (named by ``key``). ``mark`` is START (``value`` then iterates the
    section's Elements, and must be read through before the next item), WHOLE (``value`` is a
    value of the same JSON kind as the section's, not all of it), or 0 for the batchId."""

    section: str
    mark: int
    value: Any
    key: str | None = None


class BatchSource(Protocol):
    name: str  # the file as messages name it

    # a problem that outranks every check of the content but did not stop the first read
    # (a lone surrogate, a top level that is no object): known once it has been read through
    @property
    def top_problem(self) -> InputError | None: ...

    checks_input: bool  # False for a Batch: pydantic checked it when it was made
    names_places: bool  # elements carry the file's own place (CSV lines)

    def items(self, sections: Iterable[str] | None = None) -> Iterator[Item]: ...

    def place_of(self, section: str, index: int) -> str:
        """How a message names an element it points back to ('objects[3]', a CSV line)."""
        ...


def elements(source: BatchSource, section: str) -> Iterator[Element]:
    """One section's elements, read again (a later pass)."""
    for item in source.items([section]):
        if item.mark == START:
            yield from item.value


class DictSource:
    """A parsed batch document (``batch_from_dict``): checked like a file, read from memory."""

    checks_input = True

    def __init__(self, data: Any, name: str, places: Mapping[tuple[str, int], str] | None = None) -> None:
        self.name = name
        self._data = data
        self._places = places or {}
        self.names_places = bool(places)
        self.top_problem: InputError | None = None
        if not isinstance(data, dict):
            got = json_kind(data)
            self.top_problem = InputError(name, "", f"expected a JSON object at the top, got {got}")

    def items(self, sections: Iterable[str] | None = None) -> Iterator[Item]:
        data = self._data
        if not isinstance(data, dict):
            return
        keys = list(data) if sections is None else [s for s in sections if s in data]
        for key in keys:
            yield from self._section(key, data[key])

    def _section(self, key: str, value: Any) -> Iterator[Item]:
        if key in LIST_SECTIONS:
            if not isinstance(value, list):
                yield Item(key, WHOLE, value)
                return
            get = self._places.get
            yield Item(key, START, ((i, v, None, get((key, i))) for i, v in enumerate(value)))
        elif key == "linkTags":
            if not isinstance(value, dict):
                yield Item(key, WHOLE, value)
                return
            get = self._places.get
            yield Item(key, START, ((i, v, t, get((key, i))) for i, (t, v) in enumerate(value.items())))
        elif key == "batchId":
            yield Item(key, 0, value)
        else:
            yield Item("", WHOLE, value, key)

    def place_of(self, section: str, index: int) -> str:
        return self._places.get((section, index)) or f"{section}[{index}]"


class ModelSource:
    """A ``Batch`` built and checked by pydantic: read as plain dicts, checked no further (as
    ``store.load(batch)`` always did). ``places`` names links by index (CSV lines)."""

    checks_input = False
    top_problem: InputError | None = None

    def __init__(self, batch: Any, places: Mapping[int, str] | None = None) -> None:
        self.name = "<batch>"
        self._batch = batch
        self._places = places or {}
        self.names_places = bool(places)

    def items(self, sections: Iterable[str] | None = None) -> Iterator[Item]:
        batch = self._batch
        order = ("batchId", "linkTags", "objects", "references", "links")
        for section in order if sections is None else sections:
            if section == "batchId":
                yield Item("batchId", 0, batch.batchId)
            elif section == "linkTags":
                tags = batch.linkTags.items()
                yield Item(section, START, ((i, v.model_dump(), t, None) for i, (t, v) in enumerate(tags)))
            elif section in LIST_SECTIONS:
                get = (self._places if section == "links" else {}).get
                elements = getattr(batch, section)
                yield Item(
                    section, START, ((i, e.model_dump(), None, get(i)) for i, e in enumerate(elements))
                )

    def place_of(self, section: str, index: int) -> str:
        return f"{section}[{index}]"
