"""A load that fails half-way leaves nothing of its batch, and a batch still loading is invisible."""

from __future__ import annotations

from typing import Any

import pytest

from resolver.batchfile.loader import batch_from_dict
from resolver.errors import UnknownBatchError
from resolver.generate import generate
from resolver.store import neo4j_load as neo4j_module
from resolver.store.base import GraphStore


class Boom(RuntimeError):
    pass


def test_failed_load_leaves_nothing(
    neo4j_store: GraphStore, batch_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = batch_from_dict(generate(300, 600, seed=5, batch_id=batch_id))
    monkeypatch.setattr(neo4j_module, "LOAD_CHUNK", 50)  # many chunks, so the failure is mid-way
    real_loader = neo4j_module._loader
    calls = {"n": 0}

    def failing_loader(name: str, bid: str, rows: list[Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 12:  # eleven chunks are already committed
            raise Boom("the connection dropped")
        return real_loader(name, bid, rows)

    monkeypatch.setattr(neo4j_module, "_loader", failing_loader)
    with pytest.raises(Boom):
        neo4j_store.load(batch)
    assert calls["n"] == 12
    with pytest.raises(UnknownBatchError):
        neo4j_store.status(batch_id)
    left = neo4j_store._read(  # type: ignore[attr-defined]
        lambda tx: tx.run(
            "MATCH (n) WHERE (n:PendingObject OR n:Reference OR n:UnresolvedLink OR n:LinkTag OR n:Batch) "
            "AND n.batchId = $b RETURN count(n) AS n",
            b=batch_id,
        ).single()["n"]
    )
    assert left == 0
    # the id is free again: the next load goes through
    monkeypatch.setattr(neo4j_module, "_loader", real_loader)
    neo4j_store.load(batch)
    assert neo4j_store.validate(batch_id) == []


def test_batch_still_loading_is_invisible_and_replaced(neo4j_store: GraphStore, batch_id: str) -> None:
    # a load that died with its process leaves a Batch node in status 'loading'
    neo4j_store._write(  # type: ignore[attr-defined]
        lambda tx: tx.run(
            "CREATE (:Batch {batchId: $b, status: 'loading', errors: '[]'})", b=batch_id
        ).consume()
    )
    with pytest.raises(UnknownBatchError):
        neo4j_store.status(batch_id)
    neo4j_store.load(batch_from_dict(generate(20, 40, seed=1, batch_id=batch_id)))  # no --replace needed
    assert neo4j_store.validate(batch_id) == []
    assert neo4j_store.status(batch_id).status == "loaded"
