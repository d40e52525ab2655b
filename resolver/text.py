"""Small wording helpers every layer shares: how a value is named in a message, how a long
answer is cut to one line, how an id is shown so that it can never forge a line of output."""

from __future__ import annotations

from typing import Any

__all__ = ["clip", "json_kind", "shown"]


def clip(text: str, limit: int = 200) -> str:
    """``text`` on one line (runs of whitespace folded) and at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, for messages: 'an object', 'a number', 'null'..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def shown(value: object) -> str:
    """An id or key as a line of output shows it: verbatim when every character is printable,
    else quoted with escapes, so a newline or an ANSI escape in an id cannot split a line or
    reach the terminal."""
    text = str(value)
    return text if text.isprintable() else repr(text)
