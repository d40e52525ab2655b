"""What a batch file may be: a regular file (never a FIFO or a device, which could block or
never end), no larger than the caps below, and a zip no larger once inflated. Each cap is
checked before reading (the size the file or the zip directory declares) and again while
reading (a file can grow, a zip header can lie).

Caps, in bytes, from the environment (generous: a generated 10M-object batch is about 3 GB):

- ``RESOLVER_MAX_FILE_BYTES`` (8 GiB): a JSON file, a CSV file in a folder, a zip archive;
- ``RESOLVER_MAX_MEMBER_BYTES`` (4 GiB): one CSV file inside a zip, inflated;
- ``RESOLVER_MAX_ZIP_BYTES`` (8 GiB): every member of a zip together, inflated.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InputError, UsageError

__all__ = ["CappedReader", "Limits", "grew_past", "limits", "open_regular", "regular_file_problem", "too_big"]

GIB = 1 << 30
_DEFAULTS = {
    "RESOLVER_MAX_FILE_BYTES": 8 * GIB,
    "RESOLVER_MAX_MEMBER_BYTES": 4 * GIB,
    "RESOLVER_MAX_ZIP_BYTES": 8 * GIB,
}


@dataclass(frozen=True)
class Limits:
    file_bytes: int
    member_bytes: int
    zip_bytes: int


def limits() -> Limits:
    """The caps as the environment sets them now (read per load, so tests can lower them)."""
    values = []
    for name, default in _DEFAULTS.items():
        raw = os.environ.get(name, "").strip()
        if not raw:
            values.append(default)
            continue
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = -1
        if value <= 0:
            raise UsageError(f"{name} must be a positive number of bytes, got {raw!r}")
        values.append(value)
    return Limits(*values)


def too_big(size: int, cap: int, variable: str, what: str = "file is") -> str:
    return f"{what} {size:,} bytes, more than the {cap:,} allowed ({variable})"


def grew_past(cap: int, variable: str, what: str) -> str:
    return f"{what} past the {cap:,} bytes allowed ({variable})"


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def regular_file_problem(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    return f"not a regular file ({kind})"


def open_regular(path: str, source: str, cap: int, variable: str = "RESOLVER_MAX_FILE_BYTES") -> BinaryIO:
    """Open a regular file no larger than ``cap`` for reading (unbuffered: readers read big
    chunks); anything else is an InputError. Wrap it in a CappedReader to hold the cap while
    reading.

    Non-blocking open, then the check on the open descriptor: a FIFO put in the file's place
    between a stat and the open must not hang the reader."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(source, "", f"cannot read file: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise InputError(source, "", f"cannot read file: {exc}") from None
    try:
        info = os.fstat(fd)
        bad = regular_file_problem(info.st_mode)
        if bad:
            raise InputError(source, "", bad)
        if info.st_size > cap:
            raise InputError(source, "", too_big(info.st_size, cap, variable))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


class CappedReader:
    """A binary reader that refuses to give more than ``cap`` bytes in all: a file that grows
    while it is read, or a zip member inflating past what its header declared."""

    def __init__(self, raw: BinaryIO, source: str, cap: int, variable: str, what: str) -> None:
        self._raw = raw
        self._source = source
        self._cap = cap
        self._variable = variable
        self._what = what
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        # never more than one byte past the cap: enough to know it was passed
        room = self._cap + 1 - self.count
        data = self._raw.read(room if n < 0 else min(n, room))
        self.count += len(data)
        if self.count > self._cap:
            raise InputError(self._source, "", grew_past(self._cap, self._variable, self._what))
        return data

    def seek(self, offset: int) -> None:
        self._raw.seek(offset)
        self.count = offset
