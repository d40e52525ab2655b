"""Generated batches: any valid batch loads and reads back identically; resolving it on the memory
store and on Neo4j ends the same, with the same messages, in an order that respects every
dependency (the memory store is the oracle)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.batchfile.loader import batch_from_dict
from resolver.engine import resolve
from resolver.store.base import GraphStore
from resolver.store.memory import MemoryStore

from .conftest import delete_at_end
from .test_processing import FailSome, check_dispatch_log

TYPES = ["product", "variant", "offer"]
IDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 12))
    ids = draw(st.lists(IDS, min_size=n, max_size=n, unique=True))
    types = [draw(st.sampled_from(TYPES)) for _ in ids]
    existing = [draw(st.booleans()) and draw(st.booleans()) for _ in ids]
    objects = []
    for oid, otype, ex in zip(ids, types, existing, strict=True):
        o: dict[str, Any] = {"objectId": oid, "objectType": otype}
        if ex:
            o["identifierIds"] = {"id": f"x-{oid}"}
        if draw(st.booleans()):
            o["fields"] = {"f": draw(st.one_of(st.integers(), IDS, st.none()))}
        objects.append(o)
    refs = {}
    for i, oid in enumerate(ids):
        if draw(st.booleans()):
            refs[f"ref:{i}"] = oid
    links = []
    for k in range(draw(st.integers(0, 2 * n))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        dependent = a != b and draw(st.booleans())
        if dependent and a < b:
            a, b = b, a  # dependent links only point to an earlier object: a DAG
        separate = dependent and (existing[a] or draw(st.booleans()))
        parent_ref = (
            next((r for r, o in refs.items() if o == ids[b]), ids[b]) if draw(st.booleans()) else ids[b]
        )
        links.append(
            {
                "linkId": f"L{k}",
                "objectId": ids[a],
                "referenceId": parent_ref,
                "linkTag": f"{types[a]}>{types[b]}",
                "linkType": "dependent" if dependent else "independent",
                "separateDependentLinkCreate": separate,
            }
        )
    tags = {f"{c}>{p}": {"childType": c, "parentType": p} for c in TYPES for p in TYPES}
    return {
        "linkTags": tags,
        "objects": objects,
        "references": [{"referenceId": r, "objectId": o} for r, o in refs.items()],
        "links": links,
    }


def _fresh(data: dict[str, Any]) -> tuple[str, Any]:
    batch_id = delete_at_end(f"h-{uuid.uuid4().hex[:10]}")
    return batch_id, batch_from_dict({**data, "batchId": batch_id})


PROPS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPS
@given(data=batches())
def test_valid_batch_reads_back_identically(store: GraphStore, data: dict[str, Any]) -> None:
    batch_id, batch = _fresh(data)
    store.load(batch)
    assert store.validate(batch_id) == []
    st_ = store.status(batch_id, detail=True)
    objects = {o["objectId"]: o for o in st_.objectList or []}
    assert set(objects) == {o.objectId for o in batch.objects}
    for o in batch.objects:
        assert objects[o.objectId]["objectType"] == o.objectType
        assert (objects[o.objectId]["identifierIds"] or None) == o.identifierIds
    alias = {r.referenceId: r.objectId for r in batch.references}
    links = {lk["linkId"]: lk for lk in st_.linkList or []}
    assert set(links) == {lk.linkId for lk in batch.links}
    for lk in batch.links:
        got = links[lk.linkId]
        assert (got["objectId"], got["parentObjectId"], got["linkTag"], got["linkType"]) == (
            lk.objectId,
            alias.get(lk.referenceId, lk.referenceId),
            lk.linkTag,
            lk.linkType,
        )
    assert st_.status == "loaded"


def _outcome(store: GraphStore, data: dict[str, Any], fail: set[str], walk: bool = True) -> tuple[Any, ...]:
    batch_id, batch = _fresh(data)
    store.load(batch)
    assert store.validate(batch_id) == []
    log: list[Any] = []
    adapter = FailSome(fail) if fail else None
    from resolver.adapters import SimulateAdapter

    result = resolve(store, batch_id, adapter or SimulateAdapter(), on_message=log.append, walk=walk)
    if not fail:
        check_dispatch_log(batch, log)
    detail = store.status(batch_id, detail=True)
    objects = sorted(
        (o["objectId"], o["status"], json.dumps(o["identifierIds"], sort_keys=True))
        for o in detail.objectList or []
    )
    links = sorted((lk["linkId"], lk["status"]) for lk in detail.linkList or [])
    messages = sorted(json.dumps(m, sort_keys=True).replace(batch_id, "B") for m in log)
    return result.status, objects, links, messages


@PROPS
@given(data=batches(), fail_some=st.booleans())
def test_memory_and_neo4j_agree(neo4j_store: GraphStore, data: dict[str, Any], fail_some: bool) -> None:
    """The memory store's loop, Neo4j's walk (resolver.walk) and Neo4j's loop: the same end."""
    fail = {o["objectId"] for o in data["objects"][::3]} if fail_some else set()
    oracle = _outcome(MemoryStore(), data, fail)
    assert oracle == _outcome(neo4j_store, data, fail)
    assert oracle == _outcome(neo4j_store, data, fail, walk=False)
