"""Where messages go on a broker: subject tokens made from data, and the subject layout.

Ids, types and tags are data; a NATS subject token cannot hold ``.``, ``*``, ``>`` or
whitespace, and should stay printable ASCII. So data never becomes a token as it is:

- ``token(s)``: ``s`` unchanged when it is non-empty and only ``[A-Za-z0-9_-]``; otherwise every
  UTF-8 byte outside that set (``~`` included) is written ``~XX`` (two upper-case hex digits):
  ``spring catalog`` -> ``spring~20catalog``, ``a.b`` -> ``a~2Eb``, ``~`` -> ``~7E``. The empty
  string is ``~``. ``untoken`` reads it back; the two are inverse, so two values never share a
  token.
- ``route_token(s)``: ``token(s)``, or, when that is longer than ``MAX_TOKEN`` characters, ``~H``
  and the SHA-256 of ``s``'s UTF-8 in hex: a subject must fit the server's control line
  (4 KiB), while ids may be 1024 characters of any script. ``~H`` never starts a reversible
  token (``H`` is no hex digit), so a hashed token is never read back as a value.

The same reversible form makes any value safe as a header value (``header_token``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_TOKEN",
    "AnswerKind",
    "Subjects",
    "header_token",
    "route_token",
    "token",
    "untoken",
    "valid_prefix",
]

MAX_TOKEN = 128
HASHED = "~H"
_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
_PLAIN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_HEX = "0123456789ABCDEF"
_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")

AnswerKind = Literal["completions", "failures"]
ANSWER_KINDS: tuple[AnswerKind, ...] = ("completions", "failures")


def token(value: str) -> str:
    """The reversible subject token of ``value`` (see the module docstring)."""
    if _PLAIN.fullmatch(value):
        return value
    if not value:
        return "~"
    out: list[str] = []
    # surrogatepass: a lone surrogate (never storable, but possible in a Python str) still
    # gets a token of its own instead of an exception in the middle of a publish
    for byte in value.encode("utf-8", "surrogatepass"):
        out.append(chr(byte) if byte in _PLAIN_BYTES else f"~{byte:02X}")
    return "".join(out)


def untoken(text: str) -> str:
    """The value ``token`` made ``text`` from; ValueError for anything ``token`` never makes
    (a hashed token included), so a forged subject cannot name a value two ways."""
    if text == "~":
        return ""
    if not text:
        raise ValueError("an empty subject token")
    if _PLAIN.fullmatch(text):
        return text
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "~":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or any(c not in _HEX for c in pair):
                raise ValueError(f"bad escape in subject token {text[:40]!r}")
            byte = int(pair, 16)
            if byte in _PLAIN_BYTES:  # token() never escapes these: one value, one token
                raise ValueError(f"needless escape in subject token {text[:40]!r}")
            raw.append(byte)
            i += 3
        elif ord(ch) < 128 and ord(ch) in _PLAIN_BYTES:
            raw.append(ord(ch))
            i += 1
        else:
            raise ValueError(f"character {ch!r} cannot be in a subject token")
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise ValueError(f"subject token {text[:40]!r} is not UTF-8") from None


def route_token(value: str) -> str:
    """``token(value)``, hashed when too long for a subject (see the module docstring)."""
    plain = token(value)
    if len(plain) <= MAX_TOKEN:
        return plain
    return HASHED + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def is_hashed(text: str) -> bool:
    return text.startswith(HASHED)


def header_token(value: str) -> str:
    """``value`` as a header value: as it is when it is printable ASCII without spaces (what
    every idempotencyKey of plain ids is), else its reversible token. A key always holds a
    ``/`` and a token never does, so a key and another key's token never meet."""
    if value and all("!" <= c <= "~" for c in value):
        return value
    return token(value)


def valid_prefix(prefix: str) -> bool:
    return _PREFIX.fullmatch(prefix) is not None


@dataclass(frozen=True)
class Subjects:
    """The subject layout under one prefix (``resolver`` unless RESOLVER_NATS_PREFIX says):

    ``<p>.create.object.<objectType>``, ``<p>.create.link.<linkTag>``: create requests;
    ``<p>.reply.<batchId>.completions|failures``: the services' answers;
    ``<p>.batch-complete.<batchId>``: batch-complete notices.

    Every ``<...>`` is a ``route_token``.
    """

    prefix: str = "resolver"

    def __post_init__(self) -> None:
        if not valid_prefix(self.prefix):
            raise ValueError(f"prefix {self.prefix!r}: use 1 to 32 of A-Z a-z 0-9 _ -")

    # -- subjects ---------------------------------------------------------------------------------

    @property
    def creates(self) -> str:
        return f"{self.prefix}.create.>"

    @property
    def answers(self) -> str:
        return f"{self.prefix}.reply.>"

    @property
    def notices(self) -> str:
        return f"{self.prefix}.batch-complete.>"

    def create_object(self, object_type: str) -> str:
        return f"{self.prefix}.create.object.{route_token(object_type)}"

    def create_link(self, link_tag: str) -> str:
        return f"{self.prefix}.create.link.{route_token(link_tag)}"

    def reply(self, batch_id: str) -> str:
        """The reply subject a create names; services append ``.completions`` or ``.failures``."""
        return f"{self.prefix}.reply.{route_token(batch_id)}"

    def notice(self, batch_id: str) -> str:
        return f"{self.prefix}.batch-complete.{route_token(batch_id)}"

    def is_reply(self, subject: str) -> bool:
        """Whether ``subject`` is a reply subject of this layout (as a create names it)."""
        parts = subject.split(".")
        return len(parts) == 3 and subject.startswith(f"{self.prefix}.reply.") and bool(parts[2])

    def parse_answer(self, subject: str) -> tuple[str, AnswerKind]:
        """(batch token, kind) of an answer subject; ValueError naming what is wrong."""
        parts = subject.split(".")
        if len(parts) != 4 or f"{parts[0]}.{parts[1]}" != f"{self.prefix}.reply":
            raise ValueError(f"not an answer subject ({self.prefix}.reply.<batch>.completions|failures)")
        kind = parts[3]
        if kind == "completions":
            return parts[2], "completions"
        if kind == "failures":
            return parts[2], "failures"
        raise ValueError(f"answer subject ends in {kind!r}, not completions or failures")

    def filter_for(self, spec: str) -> str:
        """A worker's ``--subjects`` entry as a subject filter: ``object:TYPE``, ``link:TAG``
        (``*`` for every type or tag; anything else is encoded as a token), or a raw filter
        under ``<p>.create.``. ValueError when it is neither."""
        kind, colon, name = spec.partition(":")
        if colon and kind in ("object", "link"):
            if not name:
                raise ValueError(f"{spec!r}: name a type or tag after {kind}: (or * for all)")
            tail = "*" if name == "*" else route_token(name)
            return f"{self.prefix}.create.{kind}.{tail}"
        if spec == self.creates or spec.startswith(f"{self.prefix}.create."):
            if any(c.isspace() for c in spec) or ".." in spec or spec.endswith("."):
                raise ValueError(f"{spec!r} is not a valid subject filter")
            return spec
        raise ValueError(f"{spec!r}: use object:TYPE, link:TAG or a subject under {self.prefix}.create.")
