"""A batch's lifecycle under races, through real processes on Neo4j: an invalid batch is never
dispatched however its load dies, concurrent loads of one id leave exactly one batch, a replaced
batch's run changes nothing of the new one, and a stopped run gives its claims back."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resolver.generate import generate, write_batch
from resolver.store.neo4j import Neo4jStore

from .conftest import ROOT, Server, run_cli
from .slow_service import SlowService

pytestmark = pytest.mark.neo4j

# Enough trials to meet every phase a load can die in (start-up, writing, validating, after):
# each killed-load trial takes about 3 s here.
KILLED_LOADS = 10
TWIN_LOADS = 10


def _env(server: Server) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RESOLVER_STORE"))}
    return {**base, **server.env()}


def _start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "resolver", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(store: Neo4jStore, batch_id: str) -> dict[str, int]:
    """Every node of the batch, by label, read with Cypher."""
    query = (
        "MATCH (n) WHERE (n:PendingObject OR n:Reference OR n:UnresolvedLink OR n:LinkTag OR n:Batch) "
        "AND n.batchId = $b RETURN labels(n)[0] AS label, count(*) AS n"
    )
    rows = store._read(lambda tx: list(tx.run(query, b=batch_id)))
    return {r["label"]: r["n"] for r in rows}


def _creates(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [m for m in map(json.loads, log.read_text().splitlines()) if m["kind"] != "batch-complete"]


@pytest.fixture(scope="module")
def cycle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20k objects, valid but for one 2-cycle spliced in at the end."""
    data = generate(20_000, 30_000, seed=21)
    data["objects"] += [{"objectId": f"cyc-{x}", "objectType": "cyc"} for x in "ab"]
    data["linkTags"]["cyc"] = {"childType": "cyc", "parentType": "cyc"}
    data["links"] += [
        {"linkId": f"cyc-l{x}", "objectId": f"cyc-{x}", "referenceId": f"cyc-{y}", "linkTag": "cyc",
         "linkType": "dependent"}
        for x, y in (("a", "b"), ("b", "a"))
    ]  # fmt: skip
    path = tmp_path_factory.mktemp("cycle") / "cycle.json"
    write_batch(data, path)
    return path


def test_killed_loads_of_an_invalid_batch_dispatch_nothing(
    neo4j_server: Server, neo4j_store: Neo4jStore, cycle_file: Path, tmp_path: Path
) -> None:
    env = _env(neo4j_server)
    rng = random.Random(11)
    batch_id = f"race-{os.getpid()}"
    log = tmp_path / "pollers.jsonl"
    polls: list[int] = []
    try:
        for trial in range(KILLED_LOADS):
            done = threading.Event()

            def poll(done: threading.Event = done) -> None:
                while not done.is_set():
                    got = run_cli("run", batch_id, "--once", "--dispatch-log", str(log), env=env, timeout=120)
                    polls.append(got.code)

            pollers = [threading.Thread(target=poll) for _ in range(2)]
            for t in pollers:
                t.start()
            loader = _start("load", str(cycle_file), "--batch-id", batch_id, "--replace", env=env)
            time.sleep(rng.uniform(0.3, 2.5))  # anywhere from start-up to validation and past it
            loader.send_signal(signal.SIGKILL)
            loader.wait()
            time.sleep(0.5)  # the pollers go on meeting whatever the dead load left
            done.set()
            for t in pollers:
                t.join()
            assert _creates(log) == [], f"trial {trial}: an invalid batch was dispatched"
        # a dead load is taken over by the next load, which finds the cycle
        final = run_cli("load", str(cycle_file), "--batch-id", batch_id, "--replace", env=env, timeout=300)
        assert final.code == 1, final.err
        assert "dependency-cycle" in final.err
        assert neo4j_store.status(batch_id).status == "error"
        assert set(polls) <= {1, 2}, polls  # 'being loaded'/unknown (2) or invalid (1), never run
    finally:
        neo4j_store.delete(batch_id)


def test_concurrent_loads_of_one_id_leave_exactly_one_batch(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    env = _env(neo4j_server)
    path = tmp_path / "b.json"
    data = generate(1500, 3000, seed=3)
    write_batch(data, path)
    whole = {"Batch": 1, "PendingObject": 1500, "LinkTag": len(data["linkTags"])}
    whole["Reference"] = len(data["references"])
    for trial in range(TWIN_LOADS):
        batch_id = f"twin-{os.getpid()}-{trial}"
        try:
            procs = [_start("load", str(path), "--batch-id", batch_id, env=env) for _ in range(2)]
            outcomes = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
            codes = sorted(code for code, _ in outcomes)
            assert codes == [0, 2], outcomes
            [(_, loser)] = [(c, err) for c, err in outcomes if c == 2]
            assert len(loser.strip().splitlines()) == 1 and "Traceback" not in loser, loser
            assert "being loaded by another process" in loser or "already exists" in loser, loser
            assert _count(neo4j_store, batch_id) == whole
            assert neo4j_store.status(batch_id).status == "loaded"
        finally:
            neo4j_store.delete(batch_id)
        assert _count(neo4j_store, batch_id) == {}, "nothing of the batch is left behind"


@pytest.fixture
def two_services() -> Iterator[tuple[SlowService, SlowService]]:
    with SlowService(delay=0.05) as old, SlowService(delay=0.002) as new:
        yield old, new


def test_a_replaced_batch_changes_nothing_of_the_new_one(
    neo4j_server: Server,
    neo4j_store: Neo4jStore,
    tmp_path: Path,
    two_services: tuple[SlowService, SlowService],
) -> None:
    old_svc, new_svc = two_services
    env = _env(neo4j_server)
    batch_id = f"replaced-{os.getpid()}"
    path = tmp_path / "b.json"
    data = generate(200, 300, seed=8, batch_id=batch_id)
    write_batch(data, path)
    created = {o["objectId"] for o in data["objects"] if "identifierIds" not in o}
    logs = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    try:
        assert run_cli("load", str(path), env=env).code == 0
        old_run = _start(
            "run",
            batch_id,
            "--adapter",
            old_svc.url,
            "--workers",
            "2",
            "--dispatch-log",
            str(logs[0]),
            env=env,
        )
        deadline = time.monotonic() + 60
        while old_svc.received < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        busy = run_cli("load", str(path), "--replace", env=env)
        assert busy.code == 2 and "in flight" in busy.err and "--force" in busy.err, busy.err
        replaced = run_cli("load", str(path), "--replace", "--force", env=env)
        assert replaced.code == 0, replaced.err
        new_run = run_cli("run", batch_id, "--adapter", new_svc.url, "--dispatch-log", str(logs[1]), env=env)
        assert new_run.code == 0, new_run.err
        old_code = old_run.wait(timeout=120)
        old_err = old_run.stderr.read() if old_run.stderr else ""
        assert old_code == 2, old_err
        assert len(old_err.strip().splitlines()) == 1 and "was replaced by another load" in old_err, old_err

        st = neo4j_store.status(batch_id, detail=True)
        assert st.status == "complete" and st.objectList is not None
        new_ids = {json.dumps(a, sort_keys=True) for a in new_svc.answers.values()}
        for o in st.objectList:
            if o["objectId"] in created:  # not an existing object: the new run's service made it
                assert json.dumps(o["identifierIds"], sort_keys=True) in new_ids, o
        # nothing stray: the old run logged only what it sent to its own service, no batch-complete.
        # A line is written as its send starts, and the fenced run does not wait for the sends on
        # its way (closing the adapter may cut them off), so up to one per worker (2) can be
        # logged and never arrive.
        old_lines = [json.loads(x) for x in logs[0].read_text().splitlines()]
        assert old_lines and all(m["kind"] != "batch-complete" for m in old_lines)
        cut_off = {m["idempotencyKey"] for m in old_lines} - {r.key for r in old_svc.requests}
        assert len(cut_off) <= 2, cut_off
        ends = [m for m in map(json.loads, logs[1].read_text().splitlines()) if m["kind"] == "batch-complete"]
        assert [m["status"] for m in ends] == ["complete"]
    finally:
        neo4j_store.delete(batch_id)


def test_sigterm_gives_claims_back_so_the_next_run_need_not_wait(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    env = _env(neo4j_server)
    batch_id = f"stopped-{os.getpid()}"
    path = tmp_path / "b.json"
    write_batch(generate(150, 200, seed=9, batch_id=batch_id), path)
    try:
        assert run_cli("load", str(path), env=env).code == 0
        with SlowService(delay=0.2) as svc:
            run = _start("run", batch_id, "--adapter", svc.url, "--workers", "8", "--lease", "120", env=env)
            deadline = time.monotonic() + 60
            while svc.received < 10 and time.monotonic() < deadline:
                time.sleep(0.05)
            stopped_at = time.monotonic()
            run.send_signal(signal.SIGTERM)
            code = run.wait(timeout=60)
            err = run.stderr.read() if run.stderr else ""
            assert code == 143, err
            assert time.monotonic() - stopped_at < 10, "a stop does not wait for the service"
            assert "Traceback" not in err and "given back" in err, err
            assert neo4j_store.progress(batch_id).creating == 0, "no claim left to wait for"
            svc.delay = 0.001
            t0 = time.monotonic()
            again = run_cli("run", batch_id, "--adapter", svc.url, env=env)
            assert again.code == 0, again.err
            assert time.monotonic() - t0 < 60, "the second run did not wait out the 120 s leases"
    finally:
        neo4j_store.delete(batch_id)
