"""Named Cypher queries: one file per query in the repository's ``cypher/`` folder, shipped in the
wheel beside the Neo4j store that alone runs them (as ``resolver.store.cypher``); the file stem is the
name. Each query's ``$parameters`` are read when the files are loaded, and every call is checked
against them, so a typo fails loudly before a transaction starts (aiosql's habit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

from ..errors import QueryError

__all__ = ["Query", "all_queries", "query", "rows", "run"]

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
    for entry in resources.files("resolver.store.cypher").iterdir():
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


class Transaction(Protocol):
    """What running a query needs of a driver transaction (the Neo4j store passes its own)."""

    def run(self, query: str, parameters: dict[str, Any] | None = None) -> Any: ...


def run(tx: Transaction, name: str, **params: Any) -> list[dict[str, Any]]:
    """The named query's records, as dicts."""
    q = query(name)
    result = tx.run(q.text, q.bind(params))
    keys = result.keys()  # every value is a scalar, list or map: no Record.data() conversion needed
    return [dict(zip(keys, record.values(), strict=True)) for record in result]


def rows(tx: Transaction, name: str, **params: Any) -> list[Any]:
    """A query that returns its rows as one list in one record (``RETURN collect(...) AS rows``):
    the driver's cost per record (about 10 microseconds in Python) is paid once, not per row."""
    q = query(name)
    record = tx.run(q.text, q.bind(params)).single(strict=True)
    return list(record["rows"])
