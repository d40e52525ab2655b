"""What an external service raises or returns to tell the engine how a create went wrong.

``PermanentError`` is for services called in-process (``python:MODULE:FUNC``): raising it says
"this item cannot be created, do not retry"; any other exception counts as transient.
``identifier_problem`` is the one check every adapter applies to the identifierIds a service
hands back for a created object.
"""

from __future__ import annotations

import math
from typing import Any

from ..text import json_kind

__all__ = ["PermanentError", "identifier_problem"]


class PermanentError(Exception):
    """Raised by a service to fail an item for good: the engine does not retry it."""


def identifier_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a created object's identifierIds, or None when it can.

    IdentifierIds are a non-empty JSON object whose values are strings, numbers (finite) or
    booleans: they are what the object's children and links receive.
    """
    if not isinstance(value, dict):
        return f"expected an object of identifierIds, got {json_kind(value)}"
    if not value:
        return "returned no identifierIds (an empty object)"
    for key, item in value.items():
        if not isinstance(key, str):
            return f"identifierIds key {key!r} is not a string"
        if isinstance(item, float) and not math.isfinite(item):
            return f"identifierIds value of {key!r} is {item!r}, not a JSON number"
        if not isinstance(item, str | int | float | bool):
            return (
                f"identifierIds value of {key!r} is {json_kind(item)}; "
                "only strings, numbers and booleans are allowed"
            )
    return None
