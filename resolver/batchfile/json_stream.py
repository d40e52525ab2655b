"""One JSON document read incrementally: the structure around the big arrays by hand, each
element by the stdlib's C scanner (``JSONDecoder.raw_decode``) on a window of decoded text.

Why not ijson's yajl backend: ``items`` takes one prefix, so every section of a batch would be
another parse of the whole file; its prefix strings grow with the depth (a 200 kB file of
nested brackets took gigabytes); its errors carry no offset. Here the file is parsed once,
nesting ends at the interpreter's recursion limit (as ``json.loads``), and a syntax error is
worded exactly as ``json.loads`` words it (``line L column C``, counted in characters of the
whole document), because the same scanner finds it and the window knows how many lines and
characters came before it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from json.scanner import make_scanner
from typing import Any, NoReturn

from ..errors import InputError
from .problems import (
    SURROGATE_ESCAPE,
    BadInteger,
    BadNumber,
    DuplicateKey,
    check_int,
    finite,
    no_constant,
)
from .text_reader import Utf8Chunks

__all__ = ["JsonStream", "ValueProblem", "checking_decoder", "plain_decoder"]

_WS = re.compile(r"[ \t\n\r]*").match
_WS_CHARS = " \t\n\r"
_MARGIN = 16  # an error this close to the window's end may only mean the value goes on
_UNPLACED = "a duplicate key or an integer beyond 64 bits"
# a number the window cuts may parse as a shorter one ("1.5" of "1.5e-3"), followed by at most
# two characters ("e-"): a value ending closer than this to the window's end is read again
_NUMBER_TAIL = 3


class ValueProblem(Exception):
    """A value that parses but cannot be kept (a duplicate key, an integer beyond 64 bits),
    ``path`` inside the value; the caller knows where the value itself is."""

    def __init__(self, problem: str, path: list[int | str], value: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path
        self.value = value  # the value as parsed without the check, to name it


def checking_decoder() -> json.JSONDecoder:
    from .problems import strict_pairs

    return json.JSONDecoder(
        object_pairs_hook=strict_pairs, parse_constant=no_constant, parse_float=finite, parse_int=check_int
    )


def plain_decoder() -> json.JSONDecoder:
    """For a file already checked: the same values, no checks."""
    return json.JSONDecoder()


class JsonStream:
    def __init__(self, chunks: Utf8Chunks, where: str, decoder: json.JSONDecoder) -> None:
        self.chunks = chunks
        self.where = where
        self._decode = decoder.raw_decode
        self.text = ""
        self.pos = 0
        self.start = 0  # where the last value began (valid until the next read)
        self._chars = 0  # characters before text[0]
        self._lines = 0  # line breaks before text[0]
        self._last_break = -1  # document index of the last line break before text[0]
        self._bytes: int | None = None  # file offset of text[0], known after the first read
        self.escapes = False  # whether any text read so far escapes a surrogate
        # what raw_decode calls, without its wrapping: StopIteration for "no value here"
        self._scan: Any = make_scanner(decoder)  # type: ignore[arg-type]  # typeshed: a class

    # -- the window --------------------------------------------------------------------------

    def _more(self, at_least: int = 0) -> bool:
        """Drop what was read, append the next chunk; False at the end of the file."""
        self._compact()
        got = self.chunks.read(at_least)
        if self._bytes is None:
            self._bytes = self.chunks.start
        if not got:
            return False
        old = len(self.text)
        self.text = self.text + got if self.text else got
        # one look per chunk: most files escape no surrogate, and then no value needs a look
        if not self.escapes and SURROGATE_ESCAPE.search(self.text, max(0, old - 11)):
            self.escapes = True
        return True

    def _compact(self) -> None:
        p = self.pos
        if not p:
            return
        text = self.text
        self._lines += text.count("\n", 0, p)
        j = text.rfind("\n", 0, p)
        if j >= 0:
            self._last_break = self._chars + j
        self._bytes = (self._bytes or 0) + _utf8_len(text[:p])
        self._chars += p
        self.text = text[p:]
        self.pos = 0

    def byte_offset(self) -> int:
        """The file offset of the current position (to come back to it in a later pass)."""
        if self._bytes is None:
            self._more()
        return (self._bytes or 0) + _utf8_len(self.text[: self.pos])

    def place(self, p: int) -> str:
        """'line L column C' as json.JSONDecodeError counts them."""
        text = self.text
        line = self._lines + text.count("\n", 0, p) + 1
        j = text.rfind("\n", 0, p)
        column = p - j if j >= 0 else self._chars + p - self._last_break
        return f"line {line} column {column}"

    def fail(self, message: str, p: int) -> NoReturn:
        self.chunks.drain()
        raise InputError(self.where, self.place(p), f"invalid JSON: {message}")

    def fail_plain(self, message: str) -> NoReturn:
        self.chunks.drain()
        raise InputError(self.where, "", f"invalid JSON: {message}")

    # -- tokens ------------------------------------------------------------------------------

    def ws(self) -> str:
        """Skip whitespace; the next character, '' at the end of the file."""
        while True:
            p = _WS(self.text, self.pos).end()  # type: ignore[union-attr]  # '*' always matches
            self.pos = p
            if p < len(self.text):
                return self.text[p]
            if not self._more():
                return ""

    def begin(self) -> str:
        """The document's first character after whitespace."""
        if not self.text:
            self._more()
        if self.text.startswith("\ufeff"):  # a second BOM: json.loads refuses it so
            self.fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0)
        return self.ws()

    def end(self) -> None:
        """Only whitespace may follow the top-level value."""
        if self.ws():
            self.fail("Extra data", self.pos)

    def value(self) -> Any:
        """The value at the current position, whole."""
        while True:
            text, p = self.text, self.pos
            self.start = p
            try:
                value, end = self._decode(text, p)
            except json.JSONDecodeError as exc:
                if self._cut(exc) and self._grow():
                    continue
                self.fail(exc.msg, exc.pos)
            except RecursionError:
                self.fail_plain("nested too deeply")
            except BadNumber as exc:
                self.fail_plain(str(exc))
            except (DuplicateKey, BadInteger):
                found = self._locate()
                self.chunks.drain()
                raise found from None
            if len(text) - end < _NUMBER_TAIL and self._grow():
                continue  # a number may go on in the next chunk ("1.5" of "1.5e-3")
            self.pos = end
            return value

    def _cut(self, exc: json.JSONDecodeError) -> bool:
        """Whether the error may only mean that the window ends inside the value."""
        return exc.pos >= len(self.text) - _MARGIN or exc.msg.startswith("Unterminated string")

    def _locate(self) -> ValueProblem:
        """Where in the value at the current position the first duplicate key or oversized
        integer is: parsed again with hooks that mark instead of refusing, then searched in
        document order."""
        while True:
            try:
                value, _ = _FLAGGING.raw_decode(self.text, self.pos)
                break
            except json.JSONDecodeError as exc:
                if self._cut(exc) and self._grow():
                    continue
                return ValueProblem(_UNPLACED, [])
            except (ValueError, RecursionError):
                return ValueProblem(_UNPLACED, [])
        stack: list[tuple[list[int | str], Any]] = [([], value)]
        while stack:
            path, node = stack.pop()
            if isinstance(node, _BigInt):
                return ValueProblem(node.problem, path, value)
            if isinstance(node, _Flagged) and node.duplicate:
                return ValueProblem(f"duplicate key {node.duplicate!r}", path, value)
            if isinstance(node, dict):
                stack.extend(([*path, k], v) for k, v in reversed(node.items()))
            elif isinstance(node, list):
                stack.extend(([*path, i], v) for i, v in reversed(list(enumerate(node))))
        return ValueProblem(_UNPLACED, [])

    def _grow(self) -> bool:
        """More text after a value that did not end in the window; doubling, so a value of
        any size is parsed a bounded number of times."""
        if self.chunks.eof:
            return False
        self._more(at_least=2 * (len(self.text) - self.pos))
        return True

    def surrogate_escape(self) -> bool:
        """Whether the last value's text escapes a surrogate (then its strings need a look)."""
        return self.escapes and SURROGATE_ESCAPE.search(self.text, self.start, self.pos) is not None

    def members(self) -> Iterator[str]:
        """At '{': each key, the position left at its value, which the caller consumes before
        asking for the next key. Errors as json's scanner words them."""
        self.pos += 1
        c = self.ws()
        if c == "}":
            self.pos += 1
            return
        while True:
            if c != '"':
                self.fail("Expecting property name enclosed in double quotes", self.pos)
            key = self.value()
            if self.ws() != ":":
                self.fail("Expecting ':' delimiter", self.pos)
            self.pos += 1
            self.ws()
            yield key
            c = self.ws()
            if c == "}":
                self.pos += 1
                return
            if c != ",":
                self.fail("Expecting ',' delimiter", self.pos)
            self.pos += 1
            c = self.ws()

    def items(self) -> Iterator[int]:
        """At '[': the index of each element, the position left at it for the caller."""
        self.pos += 1
        if self.ws() == "]":
            self.pos += 1
            return
        i = 0
        while True:
            yield i
            i += 1
            c = self.ws()
            if c == "]":
                self.pos += 1
                return
            if c != ",":
                self.fail("Expecting ',' delimiter", self.pos)
            self.pos += 1
            self.ws()

    def values(self) -> Iterator[Any]:
        """At '[': each element's value, as ``items`` and ``value`` would give them, faster:
        an element that ends inside the window and is followed by ',' and no whitespace costs
        one scan (a compact array); anything else goes the careful way, which words errors."""
        self.pos += 1
        if self.ws() == "]":
            self.pos += 1
            return
        scan = self._scan
        while True:
            text, p = self.text, self.pos
            try:
                value, end = scan(text, p)
                fast = len(text) - end >= _NUMBER_TAIL
            except Exception:  # the careful way below words every failure
                fast = False
            if not fast:
                value = self.value()
                text, p, end = self.text, self.start, self.pos
            self.start, self.pos = p, end
            yield value
            if end + 1 < len(text) and text[end] == "," and text[end + 1] not in _WS_CHARS:
                self.pos = end + 1
                continue
            c = self.ws()
            if c == "]":
                self.pos += 1
                return
            if c != ",":
                self.fail("Expecting ',' delimiter", self.pos)
            self.pos += 1
            self.ws()


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class _Flagged(dict[str, Any]):
    duplicate = ""


class _BigInt:
    def __init__(self, problem: str) -> None:
        self.problem = problem


def _flag_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = _Flagged(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                out.duplicate = key
                break
            seen.add(key)
    return out


def _flag_int(text: str) -> Any:
    try:
        return check_int(text)
    except BadInteger as exc:
        return _BigInt(str(exc))


_FLAGGING = json.JSONDecoder(
    object_pairs_hook=_flag_pairs, parse_constant=no_constant, parse_float=finite, parse_int=_flag_int
)
