"""Named Cypher queries: one file per query in the shipped ``cypher/`` folder, the file stem is the
name. Each query's ``$parameters`` are read when the files are loaded, and every call is checked
against them, so a typo fails loudly before a transaction starts (aiosql's habit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .errors import QueryError

__all__ = ["Query", "all_queries", "query"]

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"//[^\n]*")


@dataclass(frozen=True)
class Query:
    name: str
    text: str
    params: frozenset[str]

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters, checked: every declared one present, none unknown."""
        given = set(params)
        missing = self.params - given
        extra = given - self.params
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(sorted(missing))}")
            if extra:
                parts.append(f"unknown {', '.join(sorted(extra))}")
            raise QueryError(f"query {self.name!r} called with {'; '.join(parts)}")
        return dict(params)


@cache
def all_queries() -> dict[str, Query]:
    found: dict[str, Query] = {}
    for entry in resources.files("resolver.cypher").iterdir():
        if entry.name.endswith(".cypher"):
            text = entry.read_text(encoding="utf-8")
            name = entry.name.removesuffix(".cypher")
            params = frozenset(_PARAM.findall(_COMMENT.sub("", text)))
            found[name] = Query(name, text.strip(), params)
    if not found:
        raise QueryError("no .cypher files found in the installed package (broken install?)")
    return found


def query(name: str) -> Query:
    try:
        return all_queries()[name]
    except KeyError:
        raise QueryError(f"unknown query {name!r}") from None
