"""Issue 6: the resolver survives what production does to it.

- a worker SIGKILLed at a random moment, then run again: every create happens exactly once on the
  service's side (it drops duplicates by Idempotency-Key), children carry what the service
  answered for their parents, and one batch-complete is emitted across both runs;
- a rerun on the same machine takes the killed worker's claims back at once, whatever the lease;
- four worker processes on one batch, working side by side: no item claimed twice;
- the Neo4j server restarted under a running worker: the run waits for it and finishes;
- transient failures retried with backoff, a permanent outage failing the item after the last
  attempt and blocking what depends on it, ``resolver retry`` finishing the batch.

The workers are real ``resolver run`` processes talking to ``tests/slow_service.py``, an HTTP
service in this process. Run with ``-s`` to see the figures each test prints.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resolver.batchfile.loader import batch_from_dict
from resolver.generate import generate, write_batch
from resolver.local import neo4j as neo4j_local
from resolver.local.process import free_ports
from resolver.store.neo4j import Neo4jStore

from .conftest import IN_CI, ROOT, Server, run_cli
from .slow_service import FOREVER, SlowService

pytestmark = pytest.mark.neo4j

CRASH_TRIALS = 10  # kill points spread over 2-95% of the run: enough to cover it, not to soak
LEASE = "2"  # seconds: a killed worker's claims come back quickly


# -- helpers --------------------------------------------------------------------------------------


def _env(server: Server | dict[str, str]) -> dict[str, str]:
    extra = server.env() if isinstance(server, Server) else server
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RESOLVER_STORE"))}
    return {**base, **extra}


def _run(batch_id: str, adapter: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``resolver run BATCH_ID --adapter ADAPTER ARGS...`` in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "resolver", "run", batch_id, "--adapter", adapter, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _load(store: Neo4jStore, data: dict[str, Any], batch_id: str) -> None:
    store.load(batch_from_dict({**data, "batchId": batch_id}))
    assert store.validate(batch_id) == []


def _expected_keys(data: dict[str, Any], batch_id: str) -> set[str]:
    """What must be created: every object without identifierIds, every link with its own create."""
    keys = {f"{batch_id}/object/{o['objectId']}" for o in data["objects"] if "identifierIds" not in o}
    for link in data["links"]:
        if link["linkType"].lower() == "independent" or link.get("separateDependentLinkCreate"):
            keys.add(f"{batch_id}/link/{link['linkId']}")
    return keys


def _messages(*logs: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for log in logs if log.exists() for line in log.read_text().splitlines()]


def _check_service_saw_a_correct_run(
    svc: SlowService, data: dict[str, Any], batch_id: str, store: Neo4jStore, logs: list[Path]
) -> None:
    """After deduplication each expected item was created once and nothing else was; every create
    the service received (duplicates too) carried the identifierIds the service itself answered
    for the parents; the store ended with those identifierIds; the service got the final
    batch-complete, once after deduplication, and so did the logs."""
    notices = [r for r in svc.requests if r.message.get("kind") == "batch-complete"]
    creates = [r for r in svc.requests if r.message.get("kind") != "batch-complete"]
    assert {r.key for r in creates if r.outcome != "failed"} == _expected_keys(data, batch_id)
    created = Counter(r.key for r in svc.requests if r.outcome == "created")
    assert max(created.values()) == 1
    told = [r for r in notices if r.outcome == "created" and r.message["status"] == "complete"]
    assert len(told) == 1, [(r.key, r.outcome, r.message["status"]) for r in notices]

    existing = {o["objectId"]: o["identifierIds"] for o in data["objects"] if "identifierIds" in o}
    alias = {r["referenceId"]: r["objectId"] for r in data.get("references", [])}
    parents: dict[str, dict[str, str]] = defaultdict(dict)  # child -> {linkId: parent objectId}
    for link in data["links"]:
        if link["linkType"].lower() == "dependent":
            parents[link["objectId"]][link["linkId"]] = alias.get(link["referenceId"], link["referenceId"])

    def ids(object_id: str) -> Any:
        return existing.get(object_id) or svc.answers.get(f"{batch_id}/object/{object_id}")

    for r in creates:
        m = r.message
        assert r.key == m["idempotencyKey"] and m["batchId"] == batch_id
        if m["kind"] == "create-object":
            got = {p["linkId"]: (p["objectId"], p["identifierIds"]) for p in m["parents"]}
            want = {lid: (pid, ids(pid)) for lid, pid in parents[m["objectId"]].items()}
            assert got == want, f"{r.key} carried parents {got}, the service answered {want}"
        else:
            for end in (m["child"], m["parent"]):
                assert end["identifierIds"] == ids(end["objectId"]), f"{r.key}: {end}"

    final = store.status(batch_id, detail=True)
    assert final.status == "complete"
    assert final.objectList is not None
    for o in final.objectList:
        assert o["status"] == "complete" and o["identifierIds"] == ids(o["objectId"]), o

    messages = _messages(*logs)
    ends = [m["status"] for m in messages if m["kind"] == "batch-complete"]
    # logged once delivered: twice only if a worker died between the delivery and its mark
    assert ends.count("complete") in (1, 2), ends
    # Logged before sent: the service cannot have seen a key more often than the logs name it.
    logged = Counter(m["idempotencyKey"] for m in messages if m["kind"] != "batch-complete")
    seen = Counter(r.key for r in creates)
    assert not seen - logged, f"sent without being logged: {seen - logged}"


# -- 1. SIGKILL at a random moment, then run again ---------------------------------------------------


@pytest.mark.slow
def test_worker_killed_at_random_then_rerun_creates_everything_once(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    data = generate(1000, 2000, seed=6)
    env = _env(neo4j_server)
    dropped: list[int] = []
    started = time.monotonic()
    with SlowService(delay=0.003) as svc:
        for trial in range(CRASH_TRIALS):
            svc.reset()
            batch_id = f"crash-{trial}-{os.getpid()}-{time.time_ns() % 10**6}"
            _load(neo4j_store, data, batch_id)
            try:
                logs = [tmp_path / f"{batch_id}-first.jsonl", tmp_path / f"{batch_id}-rerun.jsonl"]
                expected = len(_expected_keys(data, batch_id))
                # The moment: after a random share of the creates has reached the service, so
                # every kill lands mid-run however fast this machine is.
                at = max(1, round(random.Random(trial).uniform(0.02, 0.95) * expected))
                t0 = time.monotonic()
                first = _run(batch_id, svc.url, "--lease", LEASE, "--dispatch-log", str(logs[0]), env=env)
                while first.poll() is None and svc.received < at and time.monotonic() - t0 < 120:
                    time.sleep(0.002)
                first.kill()
                _, err = first.communicate()
                assert first.returncode == -signal.SIGKILL, f"the run ended before the kill: {err}"
                killed_at = time.monotonic() - t0
                seen_before = svc.received

                t1 = time.monotonic()
                rerun = _run(batch_id, svc.url, "--lease", LEASE, "--dispatch-log", str(logs[1]), env=env)
                _, err = rerun.communicate(timeout=300)
                assert rerun.returncode == 0, err
                assert "Traceback" not in err
                _check_service_saw_a_correct_run(svc, data, batch_id, neo4j_store, logs)
                dropped.append(svc.duplicates)
                print(
                    f"crash trial {trial:2}: killed at {killed_at:.2f}s after {seen_before}/{expected} "
                    f"creates, rerun {time.monotonic() - t1:.2f}s, {svc.duplicates} duplicates dropped"
                )
            finally:
                neo4j_store.delete(batch_id)
    print(
        f"crash test: {CRASH_TRIALS} trials, {sum(dropped)} duplicates dropped, max {max(dropped)} "
        f"(per trial {dropped}) in {time.monotonic() - started:.0f}s"
    )


def test_a_rerun_on_the_same_machine_takes_a_killed_workers_claims_back_at_once(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    """Leases of ten minutes, and a rerun with ``--once`` (it stops when nothing is ready): it
    finishes the batch only if it took the killed worker's claims back when it started."""
    data = generate(150, 300, seed=8)
    env = _env(neo4j_server)
    with SlowService(delay=0.01) as svc:
        batch_id = f"takeback-{os.getpid()}-{time.time_ns() % 10**6}"
        _load(neo4j_store, data, batch_id)
        try:
            logs = [tmp_path / "first.jsonl", tmp_path / "rerun.jsonl"]
            first = _run(batch_id, svc.url, "--lease", "600", "--dispatch-log", str(logs[0]), env=env)
            t0 = time.monotonic()
            while first.poll() is None and svc.received < 50 and time.monotonic() - t0 < 120:
                time.sleep(0.002)
            first.kill()
            _, err = first.communicate()
            assert first.returncode == -signal.SIGKILL, f"the run ended before the kill: {err}"
            assert neo4j_store.lease_holders(batch_id), "the kill left no claim to take back"
            rerun = _run(
                batch_id, svc.url, "--lease", "600", "--once", "--dispatch-log", str(logs[1]), env=env
            )
            _, err = rerun.communicate(timeout=300)
            assert rerun.returncode == 0, err
            _check_service_saw_a_correct_run(svc, data, batch_id, neo4j_store, logs)
        finally:
            neo4j_store.delete(batch_id)


# -- 2. four workers on one batch -------------------------------------------------------------------


@pytest.mark.slow
def test_four_workers_share_one_batch_side_by_side_and_claim_each_item_once(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    """Their speed-up over one is a figure of ``benchmarks/workers.py``; here, that they work at
    once: each worker posts to a path of its own, and there is a moment when every one of them is
    between its first create and its last."""
    data = generate(4000, 6000, seed=7)  # 10k items: ~6 s of service latency for four workers
    env = _env(neo4j_server)
    with SlowService(delay=0.005) as svc:
        batch_id = f"workers-{os.getpid()}-{time.time_ns() % 10**6}"
        _load(neo4j_store, data, batch_id)
        try:
            logs = [tmp_path / f"worker-{i}.jsonl" for i in range(4)]
            procs = [
                _run(batch_id, f"{svc.url}w{i}", "--workers", "2", "--dispatch-log", str(log), env=env)
                for i, log in enumerate(logs)
            ]
            errs = [p.communicate(timeout=300)[1] for p in procs]
            assert [p.returncode for p in procs] == [0] * 4, errs
            creates = [m["idempotencyKey"] for m in _messages(*logs) if m["kind"] != "batch-complete"]
            twice = [k for k, c in Counter(creates).items() if c > 1]
            assert not twice, f"claimed twice: {twice[:10]}"
            assert set(creates) == _expected_keys(data, batch_id)
            assert [m["kind"] for m in _messages(*logs)].count("batch-complete") == 1
            assert neo4j_store.status(batch_id).status == "complete"
            arrivals: dict[str, list[float]] = defaultdict(list)
            for r in svc.requests:
                if r.message["kind"] != "batch-complete":
                    arrivals[r.path].append(r.at)
            assert sorted(arrivals) == [f"/w{i}" for i in range(4)], "a worker created nothing"
            # one moment when all four were between their first create and their last
            first = {path: min(ats) for path, ats in arrivals.items()}
            last = {path: max(ats) for path, ats in arrivals.items()}
            assert max(first.values()) < min(last.values()), (
                f"not all at once: {max(first, key=first.__getitem__)} began after "
                f"{min(last, key=last.__getitem__)} had ended"
            )
            print(f"creates per worker: {[len(arrivals[f'/w{i}']) for i in range(4)]}")
        finally:
            neo4j_store.delete(batch_id)


# -- 3. Neo4j restarted under a running worker ------------------------------------------------------

# Small sizes: this second server shares two cores with the suite's own.
_SMALL = {"server.memory.heap.max_size": "1g", "server.memory.pagecache.size": "128m"}


@pytest.fixture
def own_neo4j(tmp_path: Path) -> Iterator[neo4j_local.LocalServer]:
    home = tmp_path / "n4j"
    bolt, http = free_ports(2)
    t0 = time.monotonic()
    try:
        server = neo4j_local.start(
            home, bolt_port=bolt, http_port=http, extra_conf=_SMALL, echo=lambda _: None
        )
    except neo4j_local.LocalNeo4jError as exc:
        if IN_CI:
            raise
        pytest.skip(f"cannot start a second local Neo4j: {exc}")
    print(f"own Neo4j: cold start {time.monotonic() - t0:.1f}s")
    try:
        yield server
    finally:
        neo4j_local.stop(home)


@pytest.mark.slow
def test_neo4j_restart_mid_run(own_neo4j: neo4j_local.LocalServer, tmp_path: Path) -> None:
    server = own_neo4j
    store = Neo4jStore(server.uri, server.username, server.password)
    data = generate(500, 1000, seed=8)
    batch_id = "restart"
    env = _env({"NEO4J_URI": server.uri, "NEO4J_USERNAME": "neo4j", "NEO4J_PASSWORD": server.password})
    log = tmp_path / "restart.jsonl"
    try:
        _load(store, data, batch_id)
        expected = len(_expected_keys(data, batch_id))
        workers = 4
        with SlowService(delay=0.02) as svc:
            t0 = time.monotonic()
            args = ("--lease", LEASE, "--workers", str(workers), "--dispatch-log", str(log))
            proc = _run(batch_id, svc.url, *args, env=env)
            while proc.poll() is None and svc.received < expected // 5 and time.monotonic() - t0 < 60:
                time.sleep(0.01)
            assert proc.poll() is None, proc.communicate()
            stopping = time.monotonic()
            seen_at_stop = svc.received
            neo4j_local.stop(server.home)
            stopped = time.monotonic()
            neo4j_local.start(
                server.home,
                bolt_port=server.bolt_port,
                http_port=server.http_port,
                extra_conf=_SMALL,
                echo=lambda _: None,
            )
            restarted = time.monotonic()
            seen_at_restart = svc.received
            _, err = proc.communicate(timeout=300)
            done = time.monotonic()
            print(
                f"restart: stop at {stopping - t0:.1f}s after {seen_at_stop}/{expected} creates, "
                f"stop took {stopped - stopping:.1f}s, start {restarted - stopped:.1f}s, "
                f"{seen_at_restart} creates seen by then, run finished at {done - t0:.1f}s, "
                f"exit {proc.returncode}, {svc.duplicates} duplicates dropped"
            )
            assert proc.returncode == 0, err
            assert "Traceback" not in err
            assert seen_at_restart < expected, "nothing was left to do after the restart"
            _check_service_saw_a_correct_run(svc, data, batch_id, store, [log])
            # At-least-once only across the outage: a duplicate is an item that was in flight
            # (at most 4 per thread are) when its lease ran out during the outage.
            assert svc.duplicates <= 4 * workers
    finally:
        store.close()


# -- 4. retries, a permanent outage, resolver retry -------------------------------------------------


def _retry_batch(batch_id: str) -> dict[str, Any]:
    def obj(oid: str, otype: str, **extra: Any) -> dict[str, Any]:
        return {"objectId": oid, "objectType": otype, **extra}

    def dep(lid: str, child: str, parent: str, tag: str, separate: bool = False) -> dict[str, Any]:
        return {
            "linkId": lid, "objectId": child, "referenceId": parent, "linkTag": tag,
            "linkType": "dependent", "separateDependentLinkCreate": separate,
        }  # fmt: skip

    return {
        "batchId": batch_id,
        "linkTags": {
            "inRoot": {"childType": "product", "parentType": "root"},
            "variantOf": {"childType": "variant", "parentType": "product"},
            "partOf": {"childType": "part", "parentType": "variant"},
        },
        "objects": [
            obj("root", "root", identifierIds={"rootId": "r-1"}),
            obj("flaky", "product"),
            obj("bad", "product"),
            obj("flaky-v", "variant"),
            obj("bad-v", "variant"),
            obj("bad-v-p", "part"),
        ],
        "links": [
            dep("l1", "flaky", "root", "inRoot"),
            dep("l2", "bad", "root", "inRoot"),
            dep("l3", "flaky-v", "flaky", "variantOf"),
            dep("l4", "bad-v", "bad", "variantOf", separate=True),
            dep("l5", "bad-v-p", "bad-v", "partOf"),
            {
                "linkId": "l6",
                "objectId": "flaky-v",
                "referenceId": "bad",
                "linkTag": "variantOf",
                "linkType": "independent",
            },  # an independent link to the object that fails
        ],
    }


def test_retries_then_failure_then_resolver_retry(
    neo4j_server: Server, neo4j_store: Neo4jStore, batch_id: str, tmp_path: Path
) -> None:
    data = _retry_batch(batch_id)
    path = tmp_path / "retry.json"
    write_batch(data, path)
    env = neo4j_server.env()
    key = f"{batch_id}/object/"
    try:
        assert run_cli("load", str(path), env=env).code == 0
        with SlowService(delay=0.001) as svc:
            svc.fail[key + "flaky"] = 3  # three 503s, then it works
            svc.fail[key + "bad"] = FOREVER
            logs = [tmp_path / "run.jsonl", tmp_path / "retry.jsonl"]
            small_backoff = ("--backoff", "0.01", "0.05")
            first = run_cli(
                "run", batch_id, "--adapter", svc.url, *small_backoff, "--dispatch-log", str(logs[0]), env=env
            )
            assert first.code == 1, first.err
            assert "Traceback" not in first.err
            assert svc.tries(key + "flaky") == 4
            assert svc.tries(key + "bad") == 5, "five attempts, then failed"
            st = run_cli("status", batch_id, "--json", "--detail", env=env).json()
            assert st["status"] == "failed"
            objects = {o["objectId"]: o["status"] for o in st["objectList"]}
            links = {lk["linkId"]: lk["status"] for lk in st["linkList"]}
            assert objects == {
                "root": "complete",
                "flaky": "complete",
                "flaky-v": "complete",
                "bad": "failed",
                "bad-v": "blocked",
                "bad-v-p": "blocked",
            }
            assert links == {
                "l1": "complete",
                "l2": "blocked",  # completes with its child, which failed
                "l3": "complete",
                "l4": "blocked",
                "l5": "blocked",
                "l6": "blocked",
            }
            assert "HTTP 503" in first.err  # the failure's reason is shown
            ends = [m["status"] for m in _messages(logs[0]) if m["kind"] == "batch-complete"]
            assert ends == ["failed"]

            svc.fail.clear()  # the service is healthy again
            again = run_cli("retry", batch_id, "--adapter", svc.url, "--dispatch-log", str(logs[1]), env=env)
            assert again.code == 0, again.err
            assert svc.tries(key + "bad") == 6 and svc.duplicates == 0
            _check_service_saw_a_correct_run(svc, data, batch_id, neo4j_store, logs)
            print(f"retry test: tries per key {dict(Counter(r.key for r in svc.requests))}")
    finally:
        neo4j_store.delete(batch_id)
