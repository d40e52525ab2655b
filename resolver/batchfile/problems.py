"""How an unusable batch is worded: the place of a problem in the file (``links[3] (linkId
'l4'): linkTag``, or a CSV line) and the problem itself, the same for every reader.

Also the strict JSON value rules every reader applies (no NaN/Infinity, no number beyond a
double or a 64-bit integer, no duplicate key, no lone surrogate), so a file that loads can be
written back out as JSON and stored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..text import json_kind, shown

__all__ = [
    "INT_DIGITS",
    "SURROGATE_ESCAPE",
    "BadInteger",
    "BadNumber",
    "DuplicateKey",
    "check_int",
    "encodable",
    "finite",
    "ident",
    "json_loads",
    "lone_surrogate",
    "no_constant",
    "place",
    "printable",
    "problem",
    "strict_pairs",
    "surrogate_problem",
]

# a lone UTF-16 surrogate (JSON text may escape one, "\ud800"): valid JSON, not valid Unicode,
# so neither UTF-8 output nor Neo4j can carry it
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
INT_DIGITS = 19  # digits of the largest 64-bit integer: anything longer cannot fit


class BadNumber(ValueError):
    pass


class BadInteger(ValueError):
    """An integer the store cannot hold (more than 64 bits)."""


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def no_constant(name: str) -> Any:
    raise BadNumber(f"{name} is not a JSON number")


def finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadNumber(f"number {text} is out of range")
    return value


def check_int(text: str) -> int:
    """Integers are kept to 64 bits, what Neo4j and most JSON readers hold; the digit count is
    checked first, so a 100,000-digit number costs nothing (int() would refuse past 4,300)."""
    digits = len(text) - (text[0] == "-")
    if digits > INT_DIGITS:
        raise BadInteger(f"integer with {digits} digits does not fit in 64 bits")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise BadInteger(f"integer {text} does not fit in 64 bits")
    return value


def strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook: a key given twice is refused (the last would silently win)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return out


_STRICT = json.JSONDecoder(
    object_pairs_hook=strict_pairs, parse_constant=no_constant, parse_float=finite, parse_int=check_int
)


def json_loads(text: str) -> Any:
    """Strict JSON for a small text (a CSV cell): NaN, Infinity and numbers beyond a double
    (BadNumber), integers beyond 64 bits (BadInteger), duplicate keys (DuplicateKey) and bad
    syntax (json.JSONDecodeError, RecursionError) are refused."""
    return _STRICT.decode(text)


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate(data: Any) -> tuple[list[int | str], str] | None:
    """The path to the first string (key or value) with a lone surrogate, and that string: a
    dict's keys before its values, then depth first in document order."""
    stack: list[tuple[list[int | str], Any]] = [([], data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if not encodable(node):
                return path, node
        elif isinstance(node, dict):
            for key in node:
                if not encodable(key):
                    return [*path, printable(key)], key
            stack.extend(([*path, k], v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend(([*path, i], v) for i, v in reversed(list(enumerate(node))))
    return None


def printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def surrogate_problem(text: str) -> str:
    char = next(c for c in text if not encodable(c))
    return f"{printable(char)} is a lone surrogate, not valid Unicode text"


def problem(err: Mapping[str, Any]) -> str:
    """One pydantic error as the message says it."""
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


_ID_KEYS = {"objects": "objectId", "links": "linkId", "references": "referenceId"}


def ident(section: str, element: Any) -> str:
    """``objectId 'shirt'`` for an element that names itself, else ''."""
    key = _ID_KEYS.get(section)
    if key is None or not isinstance(element, dict):
        return ""
    value = element.get(key)
    return f"{key} {value!r}" if isinstance(value, str) else ""


def place(loc: Sequence[int | str], head: str | None = None, element_ident: str = "") -> str:
    """('links', 3, 'linkTag') -> 'links[3] (linkId "l4"): linkTag'; ``head`` replaces
    'links[3] (...)' when the file names the element otherwise (a CSV line)."""
    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(loc[0], str):
        rest = ".".join(shown(x) for x in loc[2:])
        if head is None:
            head = f"{loc[0]}[{loc[1]}]"
            if element_ident:
                head += f" ({element_ident})"
        return f"{head}: {rest}" if rest else head
    return ".".join(shown(x) for x in loc) or "top level"
