"""Bytes to text, a chunk at a time: UTF-8 checked as it is decoded, a bad byte named by its
offset as a whole-file decode would name it, and lines split as ``io.StringIO(newline='')``
splits them (what the csv module expects)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import Protocol

from ..errors import InputError

__all__ = ["CHUNK", "ByteReader", "Utf8Chunks", "csv_lines"]

CHUNK = 1 << 20
_BOM = codecs.BOM_UTF8


class ByteReader(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Utf8Chunks:
    """Text from ``raw``, ``read()`` by ``read()``; '' once it is all read. A leading BOM is
    dropped when ``start`` is 0 (as 'utf-8-sig' does), and offsets in errors count from after
    it, as a whole-file 'utf-8-sig' decode counts them. ``consumed`` is the byte offset in the
    file up to which text was handed out."""

    def __init__(self, raw: ByteReader, where: str, *, start: int = 0) -> None:
        self._raw = raw
        self._where = where
        self._chunk = CHUNK  # read when made: a test may make it small
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._fed = 0  # bytes given to the decoder, after the BOM
        self._eof = False
        self._first = start == 0
        self.bom = False
        self.start = start  # file offset of the first byte decoded (after a BOM)

    @property
    def eof(self) -> bool:
        return self._eof

    def read(self, size: int = 0) -> str:
        """At least one character unless at the end; about ``size`` bytes' worth (a chunk by
        default)."""
        while not self._eof:
            data = self._raw.read(max(size, self._chunk))
            if self._first:
                self._first = False
                while len(data) < len(_BOM) and (more := self._raw.read(self._chunk)):
                    data += more
                if data.startswith(_BOM):
                    data = data[len(_BOM) :]
                    self.bom = True
                    self.start = len(_BOM)
            if not data:
                self._eof = True
            text = self._decode(data, final=self._eof)
            if text:
                return text
        return ""

    def _decode(self, data: bytes, final: bool) -> str:
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            # the rest is read first: a problem reading the bytes (a zip member's checksum)
            # outranks one decoding them, as when the whole file was read before it was decoded
            while self._raw.read(self._chunk):
                pass
            raise InputError(
                self._where, f"byte {self._fed - pending + exc.start}", "not valid UTF-8"
            ) from None
        self._fed += len(data)
        return text

    def drain(self) -> None:
        """Decode (and drop) the rest: a later byte that is not UTF-8 outranks any problem found
        so far, as it did when the whole file was decoded before anything else."""
        while self.read():
            pass

    def lines(self) -> Iterator[str]:
        return csv_lines(self)


# a line ends at \r\n, \r or \n (and only there: not at \x0b, \x1c or \u2028 as str.splitlines)
_LINE_END = re.compile(r"\r\n?|\n")


def csv_lines(chunks: Utf8Chunks, longest: int = 4 << 20) -> Iterator[str]:
    """Lines with their endings, as ``io.StringIO(text, newline='')`` yields them. A line longer
    than ``longest`` is handed on in pieces: no CSV line that long is valid (the csv module's
    field limit is far smaller and fails on the first piece), and a file of one endless line
    (a zip of zeros) must not be held whole."""
    tail = ""
    while True:
        text = chunks.read()
        if not text:
            break
        if tail:
            text = tail + text
        start = 0
        for m in _LINE_END.finditer(text):
            end = m.end()
            if end == len(text) and text[-1] == "\r" and not chunks.eof:
                break  # a \r at the end of a chunk may be the first half of \r\n
            yield text[start:end]
            start = end
        tail = text[start:]
        while len(tail) > longest:
            yield tail[:longest]
            tail = tail[longest:]
    if tail:
        yield tail
