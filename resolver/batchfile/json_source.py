"""A batch in one JSON file, read as a stream: each element of ``objects``, ``references`` and
``links`` and each ``linkTags`` entry is parsed alone, so memory holds one element at a time.

The first read checks the text (syntax, duplicate keys, numbers, lone surrogates) and notes
where each section starts; later reads seek there and parse that section only, unchecked. A
file that changed in between is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import InputError
from ..text import json_kind
from .json_stream import JsonStream, ValueProblem, checking_decoder, plain_decoder
from .limits import CappedReader, Limits, open_regular
from .problems import encodable, ident, lone_surrogate, place, printable, surrogate_problem
from .sources import LIST_SECTIONS, START, WHOLE, Element, Item
from .text_reader import Utf8Chunks

__all__ = ["JsonFileSource"]

_BLANK = b" \t\n\r\x0b\x0c"  # what bytes.strip() drops: a file of only these is empty


class _FirstSurrogate:
    """The lone surrogate a depth-first look at the parsed document would meet first: in an
    object, any of its keys before anything in its values."""

    def __init__(self) -> None:
        self.in_key: InputError | None = None
        self.in_value: InputError | None = None

    def key(self, error: InputError) -> None:
        self.in_key = self.in_key or error

    def value(self, error: InputError | None) -> None:
        self.in_value = self.in_value or error

    def first(self) -> InputError | None:
        return self.in_key or self.in_value


class JsonFileSource:
    checks_input = True
    names_places = False

    def __init__(self, name: str, caps: Limits) -> None:
        self.name = name
        self._caps = caps
        self.top_problem: InputError | None = None
        self._starts: dict[str, int] = {}  # section -> file offset of its '[' or '{'
        self._stamp: tuple[int, ...] | None = None

    def _open(self) -> Any:
        fh = open_regular(self.name, self.name, self._caps.file_bytes)
        info = os.fstat(fh.fileno())
        stamp = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if self._stamp is None:
            self._stamp = stamp
        elif stamp != self._stamp:
            fh.close()
            raise InputError(self.name, "", "the file changed while it was being loaded")
        return fh

    def _reader(self, fh: Any) -> CappedReader:
        return CappedReader(fh, self.name, self._caps.file_bytes, "RESOLVER_MAX_FILE_BYTES", "file grew")

    def place_of(self, section: str, index: int) -> str:
        return f"{section}[{index}]"

    def items(self, sections: Iterable[str] | None = None) -> Iterator[Item]:
        if sections is None:
            with self._open() as fh:
                yield from self._check(self._reader(fh))
            return
        for section in sections:
            if section in self._starts:
                with self._open() as fh:
                    yield from self._again(self._reader(fh), section)

    # -- the first, checking read ------------------------------------------------------------

    def _check(self, raw: CappedReader) -> Iterator[Item]:
        chunks = Utf8Chunks(raw, self.name)
        js = JsonStream(chunks, self.name, checking_decoder())
        c = js.begin()
        if (not c or c in "\x0b\x0c") and not chunks.bom and _blank_from(js):
            raise InputError(self.name, "", "file is empty")
        first = _FirstSurrogate()
        if c != "{":
            shape = self._skip(js, [], first)
            js.end()
            self.top_problem = first.first() or InputError(
                self.name, "", f"expected a JSON object at the top, got {json_kind(shape)}"
            )
            return
        seen: set[str] = set()
        for key in js.members():
            if key in seen:
                js.chunks.drain()
                raise InputError(self.name, "top level", f"duplicate key {key!r}")
            seen.add(key)
            if not encodable(key):
                first.key(InputError(self.name, place([printable(key)]), surrogate_problem(key)))
            if key in LIST_SECTIONS and js.ws() == "[":
                self._starts[key] = js.byte_offset()
                elements = self._elements(js, key, first)
                yield Item(key, START, elements)
                _drain(elements)
            elif key == "linkTags" and js.ws() == "{":
                self._starts[key] = js.byte_offset()
                elements = self._link_tags(js, first)
                yield Item(key, START, elements)
                _drain(elements)
            elif key == "batchId":
                value = self._value(js, [key])
                if js.surrogate_escape():
                    first.value(self._surrogate_at([key], value))
                yield Item(key, 0, value)
            else:
                shape = self._skip(js, [key], first)
                yield Item(key if key in LIST_SECTIONS or key == "linkTags" else "", WHOLE, shape, key)
        js.end()
        self.top_problem = first.first()

    def _elements(self, js: JsonStream, section: str, first: _FirstSurrogate) -> Iterator[Element]:
        i = -1
        try:
            for i, element in enumerate(js.values()):
                if js.escapes and js.surrogate_escape():
                    first.value(self._surrogate(section, i, element))
                yield i, element, None, None
        except ValueProblem as exc:
            raise self._unkept(exc, [section, i + 1]) from None

    def _link_tags(self, js: JsonStream, outer: _FirstSurrogate) -> Iterator[Element]:
        inner = _FirstSurrogate()
        seen: set[str] = set()
        for i, tag in enumerate(js.members()):
            if tag in seen:
                js.chunks.drain()
                raise InputError(self.name, "linkTags", f"duplicate key {tag!r}")
            seen.add(tag)
            if not encodable(tag):
                inner.key(InputError(self.name, place(["linkTags", printable(tag)]), surrogate_problem(tag)))
            spec = self._value(js, ["linkTags", tag])
            if js.surrogate_escape():
                inner.value(self._surrogate_at(["linkTags", tag], spec))
            yield i, spec, tag, None
        outer.value(inner.first())

    def _skip(self, js: JsonStream, path: list[int | str], outer: _FirstSurrogate) -> Any:
        """Read a value nobody keeps (an unknown key's, a section of the wrong shape) one
        element at a time, checking it as the rest; returns an empty value of its kind."""
        c = js.ws()
        if c == "[":
            for i in js.items():
                value = self._value(js, [*path, i])
                if js.surrogate_escape():
                    outer.value(self._surrogate_at([*path, i], value))
            return []
        if c == "{":
            inner = _FirstSurrogate()
            seen: set[str] = set()
            for key in js.members():
                if key in seen:
                    js.chunks.drain()
                    raise InputError(self.name, place(path), f"duplicate key {key!r}")
                seen.add(key)
                if not encodable(key):
                    inner.key(InputError(self.name, place([*path, printable(key)]), surrogate_problem(key)))
                value = self._value(js, [*path, key])
                if js.surrogate_escape():
                    inner.value(self._surrogate_at([*path, key], value))
            outer.value(inner.first())
            return {}
        value = self._value(js, path)
        if js.surrogate_escape():
            outer.value(self._surrogate_at(path, value))
        return value

    def _value(self, js: JsonStream, loc: list[int | str]) -> Any:
        try:
            return js.value()
        except ValueProblem as exc:
            raise self._unkept(exc, loc) from None

    def _unkept(self, exc: ValueProblem, loc: list[int | str]) -> InputError:
        section = loc[0] if loc and isinstance(loc[0], str) else ""
        element_ident = ident(section, exc.value) if len(loc) == 2 else ""
        return InputError(self.name, place([*loc, *exc.path], None, element_ident), exc.problem)

    def _surrogate(self, section: str, index: int, element: Any) -> InputError | None:
        found = lone_surrogate(element)
        if found is None:
            return None
        path, text = found
        where = place([section, index, *path], None, ident(section, element))
        return InputError(self.name, where, surrogate_problem(text))

    def _surrogate_at(self, loc: list[int | str], value: Any) -> InputError | None:
        found = lone_surrogate(value)
        if found is None:
            return None
        path, text = found
        return InputError(self.name, place([*loc, *path]), surrogate_problem(text))

    # -- later reads ---------------------------------------------------------------------------

    def _again(self, raw: CappedReader, section: str) -> Iterator[Item]:
        start = self._starts[section]
        raw.seek(start)
        js = JsonStream(Utf8Chunks(raw, self.name, start=start), self.name, plain_decoder())
        c = js.ws()
        if section == "linkTags" and c == "{":
            elements: Iterator[Element] = ((i, js.value(), tag, None) for i, tag in enumerate(js.members()))
        elif c == "[":
            elements = ((i, v, None, None) for i, v in enumerate(js.values()))
        else:
            raise InputError(self.name, "", "the file changed while it was being loaded")
        yield Item(section, START, elements)
        _drain(elements)


def _drain(elements: Iterator[Element]) -> None:
    """Read what the consumer left of a section: the next item is after it in the file."""
    for _ in elements:
        pass


def _blank_from(js: JsonStream) -> bool:
    """Whether nothing but blank bytes is left (the stream is at its first character)."""
    if js.text[js.pos :].strip(_BLANK.decode()):
        return False
    while True:
        more = js.chunks.read()
        if not more:
            return True
        if more.strip(_BLANK.decode()):
            return False
