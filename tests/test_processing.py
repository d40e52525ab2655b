"""docs/interface.md sections 3 and 4 on both stores: order, parents' identifiers, exactly-once dispatch,
completions recorded once, failures blocking their dependents."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from resolver.adapters import Created, Failed, ManualAdapter, SimulateAdapter
from resolver.batchfile.loader import batch_from_dict, load_batch
from resolver.engine import Engine, RetryPolicy, resolve
from resolver.generate import generate
from resolver.liveness import is_gone, worker_id
from resolver.models import Message
from resolver.store.base import GraphStore

from .conftest import EXAMPLES, delete_at_end


def start(store: GraphStore, path: Path, batch_id: str) -> Any:
    batch = load_batch(path, batch_id)
    store.load(batch)
    assert store.validate(batch_id) == []
    return batch


def run(store: GraphStore, batch_id: str, adapter: Any = None, **kw: Any) -> tuple[Any, list[Any]]:
    # Any: the tests read each kind's own keys off the union of message types
    log: list[Any] = []
    result = resolve(store, batch_id, adapter or SimulateAdapter(), on_message=log.append, **kw)
    return result, log


def check_dispatch_log(batch: Any, log: list[Message]) -> None:
    """Every create once; every child after its dependent parents, carrying their identifierIds;
    links after their ends; one batch-complete, last."""
    creates = [m for m in log if m["kind"] != "batch-complete"]
    keys = [m["idempotencyKey"] for m in creates]
    assert len(keys) == len(set(keys)), "something was dispatched twice"
    assert [m["kind"] for m in log].count("batch-complete") == 1 and log[-1]["kind"] == "batch-complete"
    existing = {o.objectId: o.identifierIds for o in batch.objects if o.identifierIds is not None}
    alias = {r.referenceId: r.objectId for r in batch.references}
    position = {m.get("objectId"): i for i, m in enumerate(creates) if m["kind"] == "create-object"}
    expected_objects = {o.objectId for o in batch.objects if o.identifierIds is None}
    assert set(position) == expected_objects
    for link in batch.links:
        parent = alias.get(link.referenceId, link.referenceId)
        if link.dependent and link.objectId in position and parent in position:
            assert position[parent] < position[link.objectId]
        if link.dependent and link.objectId in position:
            msg = creates[position[link.objectId]]
            assert msg["kind"] == "create-object"
            parents = {p["linkId"]: p for p in msg["parents"]}
            want = existing.get(parent) or {"id": f"sim-{parent}"}
            assert parents[link.linkId]["identifierIds"] == want
            assert parents[link.linkId]["objectId"] == parent
    for i, m in enumerate(creates):
        if m["kind"] == "create-link":
            for end in (m["child"], m["parent"]):
                if end["objectId"] in position:
                    assert position[end["objectId"]] < i
                assert end["identifierIds"] == existing.get(end["objectId"]) or end["identifierIds"] == {
                    "id": f"sim-{end['objectId']}"
                }


@pytest.mark.parametrize("example", ["spring-catalog.json", "catalog.json"])
def test_examples_resolve_in_order(store: GraphStore, batch_id: str, example: str) -> None:
    batch = start(store, EXAMPLES / example, batch_id)
    result, log = run(store, batch_id)
    assert result.status == "complete"
    check_dispatch_log(batch, log)
    st = store.status(batch_id, detail=True)
    assert st.status == "complete"
    assert set(st.objects) == {"complete"} and set(st.links) == {"complete"}
    ids = {o["objectId"]: o["identifierIds"] for o in st.objectList or []}
    for o in batch.objects:
        assert ids[o.objectId] == (o.identifierIds or {"id": f"sim-{o.objectId}"})


def test_contract_scenario_messages(store: GraphStore, batch_id: str) -> None:
    start(store, EXAMPLES / "spring-catalog.json", batch_id)
    _, log = run(store, batch_id)
    assert log == [
        {
            "kind": "create-object",
            "batchId": batch_id,
            "objectId": "shirt",
            "objectType": "product",
            "fields": {"title": "Shirt"},
            "idempotencyKey": f"{batch_id}/object/shirt",
            "parents": [],
        },
        {
            "kind": "create-object",
            "batchId": batch_id,
            "objectId": "shirt-red",
            "objectType": "variant",
            "fields": {"color": "red"},
            "idempotencyKey": f"{batch_id}/object/shirt-red",
            "parents": [
                {
                    "linkId": "l1",
                    "linkTag": "variantOf",
                    "objectId": "shirt",
                    "identifierIds": {"id": "sim-shirt"},
                }
            ],
        },
        {
            "kind": "batch-complete",
            "batchId": batch_id,
            "status": "complete",
            "idempotencyKey": f"{batch_id}/batch-complete",
            "objects": {"total": 3, "byStatus": {"complete": 3}},
            "links": {"total": 1, "byStatus": {"complete": 1}},
        },
    ]


def test_catalog_link_kinds(store: GraphStore, batch_id: str) -> None:
    start(store, EXAMPLES / "catalog.json", batch_id)
    _, log = run(store, batch_id)
    links = [m for m in log if m["kind"] == "create-link"]
    tags = sorted(m["linkTag"] for m in links)
    # separate dependent links (offerFor) and independent ones (inCategory) are dispatched;
    # dependent links without separate create (madeBy, variantOf, priceOf) complete with their child
    assert tags == ["inCategory"] * 3 + ["offerFor"] * 3


def test_existing_object_waits_for_its_parents(store: GraphStore, batch_id: str) -> None:
    data = {
        "batchId": batch_id,
        "linkTags": {"t": {"childType": "x", "parentType": "x"}},
        "objects": [
            {"objectId": "new", "objectType": "x"},
            {"objectId": "old", "objectType": "x", "identifierIds": {"id": "7"}},
            {"objectId": "kid", "objectType": "x"},
        ],
        "links": [
            {
                "linkId": "a",
                "objectId": "old",
                "referenceId": "new",
                "linkTag": "t",
                "linkType": "dependent",
                "separateDependentLinkCreate": True,
            },
            {"linkId": "b", "objectId": "kid", "referenceId": "old", "linkTag": "t", "linkType": "DEPENDENT"},
        ],
    }
    store.load(batch_from_dict(data))
    assert store.validate(batch_id) == []
    _, log = run(store, batch_id)
    kinds = [(m["kind"], m.get("objectId") or m.get("linkId")) for m in log]
    assert kinds == [
        ("create-object", "new"),
        ("create-link", "a"),
        ("create-object", "kid"),
        ("batch-complete", None),
    ] or kinds == [
        ("create-object", "new"),
        ("create-object", "kid"),
        ("create-link", "a"),
        ("batch-complete", None),
    ]
    kid = next(m for m in log if m.get("objectId") == "kid")
    assert kid["kind"] == "create-object" and kid["parents"][0]["identifierIds"] == {"id": "7"}


class FailSome:
    name = "fail-some"
    inline = True
    final_answers = True  # a run on Neo4j walks the batch (resolver.walk)

    def __init__(self, fail: set[str], permanent: bool = True) -> None:
        self.fail = fail
        self.permanent = permanent
        self.seen: list[str] = []

    def send(self, message: Message) -> Any:
        if message["kind"] == "batch-complete":
            return Created()
        key = message.get("objectId") or message.get("linkId")
        assert isinstance(key, str)
        self.seen.append(key)
        if key in self.fail:
            return Failed("service said no", permanent=self.permanent)
        return Created({"id": f"ok-{key}"} if message["kind"] == "create-object" else None)

    def close(self) -> None:
        pass


def test_failure_blocks_dependents(store: GraphStore, batch_id: str) -> None:
    start(store, EXAMPLES / "catalog.json", batch_id)
    result, log = run(store, batch_id, FailSome({"var:shirt-red"}))
    assert result.status == "failed"
    st = store.status(batch_id, detail=True)
    objects = {o["objectId"]: o for o in st.objectList or []}
    assert objects["var:shirt-red"]["status"] == "failed"
    assert objects["var:shirt-red"]["reason"] == "service said no"
    for blocked in ("offer:shirt-red", "price:shirt-red"):
        assert objects[blocked]["status"] == "blocked"
        assert objects[blocked]["blockedBy"] == "var:shirt-red"
    assert objects["var:shirt-blue"]["status"] == "complete"
    links = {lk["linkId"]: lk for lk in st.linkList or []}
    assert {
        lk["status"] for lk in links.values() if lk["objectId"] in ("offer:shirt-red", "price:shirt-red")
    } == {"blocked"}
    assert st.failures and st.failures[0]["objectId"] == "var:shirt-red"
    assert {k: log[-1].get(k) for k in ("kind", "batchId", "status", "idempotencyKey")} == {
        "kind": "batch-complete",
        "batchId": batch_id,
        "status": "failed",
        "idempotencyKey": f"{batch_id}/batch-complete",
    }
    # put back and finish once the service recovers
    assert store.retry(batch_id) >= 3
    result, _ = run(store, batch_id)
    assert result.status == "complete"
    assert store.status(batch_id).status == "complete"


def test_transient_failures_are_retried(store: GraphStore, batch_id: str) -> None:
    start(store, EXAMPLES / "spring-catalog.json", batch_id)

    class Flaky(FailSome):
        def send(self, message: Message) -> Any:
            if message.get("objectId") == "shirt" and self.seen.count("shirt") < 3:
                self.seen.append("shirt")
                return Failed("503", permanent=False)
            return super().send(message)

    adapter = Flaky(set())
    result, _ = run(store, batch_id, adapter, retry=RetryPolicy(5, 0.01, 0.02))
    assert result.status == "complete"
    assert adapter.seen.count("shirt") == 4


def test_completion_twice_and_not_awaiting(store: GraphStore, batch_id: str) -> None:
    start(store, EXAMPLES / "spring-catalog.json", batch_id)
    result, log = run(store, batch_id, ManualAdapter(), once=True)
    assert result.status == "processing"
    assert [m.get("objectId") for m in log] == ["shirt"]
    not_yet = store.complete_objects(batch_id, [("shirt-red", {"id": "x"})])[0]
    assert (not_yet.changed, not_yet.status) == (False, "waiting")
    first = store.complete_objects(batch_id, [("shirt", {"id": "S1"})])[0]
    again = store.complete_objects(batch_id, [("shirt", {"id": "S2"})])[0]
    assert (first.changed, again.changed, again.status) == (True, False, "complete")
    unknown = store.complete_objects(batch_id, [("nope", {"id": "x"})])[0]
    assert unknown.status is None
    _, log = run(store, batch_id, ManualAdapter(), once=True)
    assert log[0]["kind"] == "create-object" and log[0]["parents"][0]["identifierIds"] == {"id": "S1"}


def test_an_answer_twice_in_one_report_counts_once(store: GraphStore, batch_id: str) -> None:
    """A redelivered answer can land in the same chunk as the first: the object completes once,
    so its child, which waits on another parent too, stays waiting."""
    data = {
        "batchId": batch_id,
        "linkTags": {"t": {"childType": "x", "parentType": "x"}},
        "objects": [{"objectId": i, "objectType": "x"} for i in ("p1", "p2", "kid", "far")],
        "links": [
            {"linkId": "a", "objectId": "kid", "referenceId": "p1", "linkTag": "t", "linkType": "dependent"},
            {"linkId": "b", "objectId": "kid", "referenceId": "p2", "linkTag": "t", "linkType": "dependent"},
            {
                "linkId": "c",
                "objectId": "far",
                "referenceId": "p1",
                "linkTag": "t",
                "linkType": "independent",
            },
        ],
    }
    store.load(batch_from_dict(data))
    assert store.validate(batch_id) == []
    _, log = run(store, batch_id, ManualAdapter(), once=True)
    assert sorted(m["objectId"] for m in log) == ["far", "p1", "p2"]
    first, again = store.complete_objects(batch_id, [("p1", {"id": "1"}), ("p1", {"id": "other"})])
    assert (first.changed, again.changed, again.status) == (True, False, "complete")
    assert store.status(batch_id).objects == {"complete": 1, "creating": 2, "waiting": 1}
    store.complete_objects(batch_id, [("far", {"id": "f"})])
    link, link_again = store.complete_links(batch_id, ["c", "c"])
    assert (link.changed, link.status) == (False, "ready")  # not dispatched yet: nothing to complete
    _, log = run(store, batch_id, ManualAdapter(), once=True)
    assert [m.get("linkId") for m in log] == ["c"]
    link, link_again = store.complete_links(batch_id, ["c", "c"])
    assert (link.changed, link_again.changed, link_again.status) == (True, False, "complete")
    store.complete_objects(batch_id, [("p2", {"id": "2"})])
    _, log = run(store, batch_id, ManualAdapter(), once=True)
    kid = next(m for m in log if m.get("objectId") == "kid")
    parents = {p["objectId"]: p["identifierIds"] for p in kid["parents"]}
    assert parents == {"p1": {"id": "1"}, "p2": {"id": "2"}}


def test_fail_reported_twice_changes_nothing(store: GraphStore, batch_id: str) -> None:
    start(store, EXAMPLES / "spring-catalog.json", batch_id)
    run(store, batch_id, ManualAdapter(), once=True)
    assert store.fail(batch_id, "object", "shirt", "boom").changed
    second = store.fail(batch_id, "object", "shirt", "boom")
    assert (second.changed, second.status) == (False, "failed")
    assert store.finish(batch_id) is not None
    assert store.finish(batch_id) is None  # the transition happens once
    assert store.status(batch_id).status == "failed"


@pytest.mark.parametrize("parallel", [True, False], ids=["recorded-beside-claims", "recorded-in-turn"])
def test_recording_beside_claims_gives_the_same_result(
    store: GraphStore, batch_id: str, parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a round's answers are written while the next round is claimed (Neo4j) or in turn
    (memory) changes nothing a user sees: small rounds force many of both at once."""
    monkeypatch.setattr(store, "parallel_writes", parallel)
    data = generate(400, 800, seed=7, shape="random", batch_id=batch_id)
    batch = batch_from_dict(data)
    store.load(batch)
    assert store.validate(batch_id) == []
    result, log = run(store, batch_id, chunk=25)
    assert result.status == "complete"
    check_dispatch_log(batch, log)
    st = store.status(batch_id)
    assert set(st.objects) == {"complete"} and set(st.links) == {"complete"}
    # plain dependent links complete with their child; everything else is recorded on its own
    on_their_own = [lk for lk in batch.links if not lk.dependent or lk.separateDependentLinkCreate]
    assert result.completed == len(batch.objects) + len(on_their_own)

    # a failure blocks exactly its dependents in either mode
    failing_id = delete_at_end(batch_id + "-f")
    store.load(batch_from_dict({**data, "batchId": failing_id}))
    assert store.validate(failing_id) == []
    roots = [o["objectId"] for o in data["objects"] if "identifierIds" not in o][:3]
    result, _ = run(store, failing_id, FailSome(set(roots)), chunk=25)
    assert result.status == "failed"
    objects = {o["objectId"]: o for o in store.status(failing_id, detail=True).objectList or []}
    assert {k for k, o in objects.items() if o["status"] == "failed"} == set(roots)
    alias = {r["referenceId"]: r["objectId"] for r in data["references"]}
    children: dict[str, set[str]] = {}
    for link in data["links"]:
        if link["linkType"] == "dependent":
            parent = alias.get(link["referenceId"], link["referenceId"])
            children.setdefault(parent, set()).add(link["objectId"])
    blocked: set[str] = set()
    frontier = set(roots)
    while frontier:
        frontier = {c for p in frontier for c in children.get(p, ())} - blocked
        blocked |= frontier
    assert {k for k, o in objects.items() if o["status"] == "blocked"} == blocked - set(roots)


def _gone_worker() -> str:
    """The id a worker of this machine had, whose process has ended (and been reaped)."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host, _, machine, _ = worker_id().split(":")
    return f"{host}:{ended.stdout.strip()}:{machine}:dead00"


def test_liveness_is_sure_only_of_this_machines_ended_processes() -> None:
    gone = _gone_worker()
    host, pid, machine, _ = gone.split(":")
    assert is_gone(gone)
    assert not is_gone(worker_id())  # this process
    assert not is_gone(f"{host}:{os.getppid()}:{machine}:abcdef")  # a process that runs
    assert not is_gone(f"{host}:{pid}:00000000:abcdef")  # another machine's, or namespace's
    for odd in ("", "w", f"{host}:{pid}:abcdef", f"{host}:x{pid}:{machine}:abcdef"):
        assert not is_gone(odd)


def test_expired_leases_and_a_gone_workers_claims_come_back(store: GraphStore, batch_id: str) -> None:
    """Claims held by a process of this machine that ended come back when a run starts, however
    long their lease; another machine's wait for theirs to run out, as expired ones do."""
    store.load(batch_from_dict(generate(10, 0, seed=3, existing=0.0, batch_id=batch_id)))
    assert store.validate(batch_id) == []
    store.start(batch_id)
    gone, elsewhere = _gone_worker(), "other-host:1:00000000:abcdef"
    for worker, lease in ((gone, 600.0), (elsewhere, 600.0), ("short", 0.05)):
        assert len(store.claim(batch_id, worker=worker, limit=2, lease_seconds=lease)) == 2
    store.accept(
        batch_id,
        [("object", c.item_id) for c in store.claim(batch_id, worker=gone, limit=1, lease_seconds=600)],
    )
    assert store.lease_holders(batch_id) == sorted([gone, elsewhere, "short"])
    time.sleep(0.1)
    assert store.reclaim_expired(batch_id, now=time.time()) == 2
    assert Engine(store, batch_id).take_back() == 2  # not the one the service accepted
    assert store.lease_holders(batch_id) == [elsewhere]
    assert store.progress(batch_id).creating == 3
    result, log = run(store, batch_id, ManualAdapter(), once=True)
    assert result.taken_back == 0 and len(log) == 10 - 3


def test_dispatch_log_file_via_cli(tmp_path: Path) -> None:
    from .conftest import run_cli

    log = tmp_path / "d.jsonl"
    result = run_cli(
        "run", str(EXAMPLES / "catalog.json"), "--dispatch-log", str(log), env={"RESOLVER_STORE": "memory"}
    )
    assert result.code == 0, result.err
    assert result.out.strip() == "catalog"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    check_dispatch_log(load_batch(EXAMPLES / "catalog.json"), lines)


def test_completions_side_by_side_take_their_locks_in_one_order(
    neo4j_store: GraphStore, batch_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Four workers on one batch complete objects that share children and independent links:
    each completion locks those in one order, so none waits for a deadlock and the driver's
    retry (before, 8-14 retries a 30k-object batch)."""
    data = generate(3000, 6000, seed=11, shape="random", batch_id=batch_id)
    batch = batch_from_dict(data)
    neo4j_store.load(batch)
    assert neo4j_store.validate(batch_id) == []
    logs: list[list[Message]] = [[] for _ in range(4)]
    results: list[Any] = []

    def work(log: list[Message]) -> None:
        results.append(
            resolve(neo4j_store, batch_id, SimulateAdapter(), chunk=50, on_message=log.append, walk=False)
        )

    with caplog.at_level(logging.WARNING, logger="neo4j"):
        threads = [threading.Thread(target=work, args=(log,)) for log in logs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
    assert [r.status for r in results] == ["complete"] * 4
    deadlocks = [r.getMessage()[:200] for r in caplog.records if "DeadlockDetected" in r.getMessage()]
    assert not deadlocks, f"{len(deadlocks)} deadlocks, the first: {deadlocks[0]}"
    creates = [m for log in logs for m in log if m["kind"] != "batch-complete"]
    keys = [m["idempotencyKey"] for m in creates]
    assert len(keys) == len(set(keys)), "something was dispatched twice"
    assert all(log for log in logs), "a worker did nothing"
