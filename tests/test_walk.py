"""The walk (resolver.walk) on Neo4j: it holds the batch while it runs, gives it back with the
readiness of what it left recomputed, survives a kill at any moment and a lease that ran out,
and hands transient failures to the loop with the attempts they already had."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from resolver import walk
from resolver.adapters import SimulateAdapter
from resolver.batchfile.loader import batch_from_dict
from resolver.engine import RetryPolicy, resolve
from resolver.errors import BatchBusyError
from resolver.generate import generate
from resolver.models import Message
from resolver.store.neo4j import Neo4jStore

from .conftest import ROOT, Server, delete_at_end
from .test_processing import FailSome, check_dispatch_log

pytestmark = pytest.mark.neo4j


def _load(store: Neo4jStore, data: dict[str, Any], batch_id: str) -> Any:
    batch = batch_from_dict({**data, "batchId": batch_id})
    store.load(batch)
    assert store.validate(batch_id) == []
    return batch


class Crash(BaseException):
    """Not an Exception: nothing in the run catches it, as nothing catches a SIGKILL."""


class CrashAfter(SimulateAdapter):
    def __init__(self, sends: int) -> None:
        super().__init__()
        self.left = sends

    def send(self, message: Message) -> Any:
        self.left -= 1
        if self.left < 0:
            raise Crash
        return super().send(message)


def test_a_walk_holds_the_batch_until_it_is_given_back(neo4j_store: Neo4jStore, batch_id: str) -> None:
    data = generate(200, 400, seed=3)
    _load(neo4j_store, data, batch_id)
    generation = neo4j_store.start(batch_id).generation
    assert neo4j_store.walk_begin(batch_id, worker="w1", lease_seconds=60, generation=generation)
    assert not neo4j_store.walk_begin(batch_id, worker="w2", lease_seconds=60, generation=generation)

    def claim() -> list[Any]:
        return neo4j_store.claim(batch_id, worker="w2", limit=100, lease_seconds=60, generation=generation)

    assert claim() == []
    assert neo4j_store.lease_holders(batch_id) == ["w1"]
    # its items are out with the service (a walk sends from 'ready'): no replace without --force
    with pytest.raises(BatchBusyError):
        neo4j_store.load(batch_from_dict({**data, "batchId": batch_id}), replace=True)
    assert neo4j_store.release(batch_id, worker="w1") == 1
    assert neo4j_store.lease_holders(batch_id) == []
    assert claim()


def test_a_stopped_walk_gives_the_batch_back_and_the_next_run_goes_on(
    neo4j_store: Neo4jStore, batch_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walk, "CHUNK", 50)
    batch = _load(neo4j_store, generate(600, 1200, seed=4), batch_id)
    stop = threading.Event()
    first: list[Message] = []

    def stop_soon(message: Message) -> None:
        first.append(message)
        if len(first) == 120:
            stop.set()

    walked = resolve(neo4j_store, batch_id, SimulateAdapter(), on_message=stop_soon, stop=stop)
    assert walked.stopped and walked.status == "processing"
    assert neo4j_store.lease_holders(batch_id) == []
    progress = neo4j_store.progress(batch_id)
    assert progress.ready > 0 and progress.creating == 0 and not progress.walked
    rest: list[Message] = []
    done = resolve(neo4j_store, batch_id, SimulateAdapter(), on_message=rest.append)
    assert done.status == "complete"
    check_dispatch_log(batch, first + rest)  # each create once: the stop lost nothing it sent


def test_a_run_beside_a_walk_waits_without_spinning_then_finishes_once_it_is_given_back(
    neo4j_store: Neo4jStore, batch_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = _load(neo4j_store, generate(300, 600, seed=12), batch_id)
    generation = neo4j_store.start(batch_id).generation
    assert neo4j_store.walk_begin(batch_id, worker="other", lease_seconds=600, generation=generation)
    claims = Counter[str]()
    claim = neo4j_store.claim

    def counted(*args: Any, **kwargs: Any) -> Any:
        claims["n"] += 1
        return claim(*args, **kwargs)

    monkeypatch.setattr(neo4j_store, "claim", counted)
    log: list[Message] = []
    results: list[Any] = []
    # final answers, but the run cannot walk: another holds the batch
    beside = threading.Thread(
        target=lambda: results.append(
            resolve(neo4j_store, batch_id, SimulateAdapter(), on_message=log.append, poll=0.2)
        )
    )
    beside.start()
    time.sleep(1.5)
    assert not log, "a run dispatched what another run walks"
    assert claims["n"] <= 20, f"{claims['n']} claims in 1.5 s: the run spins instead of waiting"
    assert neo4j_store.release(batch_id, worker="other") == 1
    beside.join(timeout=60)
    assert results and results[0].status == "complete"
    check_dispatch_log(batch, log)


def test_a_crashed_walk_whose_lease_ran_out_is_taken_over(
    neo4j_store: Neo4jStore, batch_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk dies mid-chunk (some chunks written, one sent and not written); another run of the
    same process (so not 'gone') finds the walk's lease, waits it out, takes the walk over with
    the readiness of what was left recomputed from the parents, and finishes: every child's
    create carries its parents' identifiers, and only the lost chunk goes out twice."""
    monkeypatch.setattr(walk, "CHUNK", 40)
    batch = _load(neo4j_store, generate(400, 800, seed=5), batch_id)
    first: list[Message] = []
    with pytest.raises(Crash):
        resolve(neo4j_store, batch_id, CrashAfter(150), on_message=first.append, lease_seconds=1.0)
    assert neo4j_store.lease_holders(batch_id), "the crash left no walk to take over"
    rest: list[Message] = []
    done = resolve(neo4j_store, batch_id, SimulateAdapter(), on_message=rest.append, lease_seconds=1.0)
    assert done.status == "complete"
    # the last one logged is the send that crashed: it goes out again with the rest of its chunk
    again = Counter(m["idempotencyKey"] for m in first) & Counter(m["idempotencyKey"] for m in rest)
    assert 0 < len(again) <= 40, "what was sent but not written goes out again, and only that"
    seen: set[str] = set()
    deduplicated = []
    for m in first + rest:
        if m["kind"] == "batch-complete" or m["idempotencyKey"] not in seen:
            seen.add(m.get("idempotencyKey", ""))
            deduplicated.append(m)
    check_dispatch_log(batch, deduplicated)
    final = neo4j_store.status(batch_id, detail=True)
    assert {o["status"] for o in final.objectList or []} == {"complete"}


def test_transient_failures_of_a_walk_are_retried_by_the_loop_with_the_attempts_they_had(
    neo4j_store: Neo4jStore, batch_id: str
) -> None:
    data = generate(300, 600, seed=7)
    _load(neo4j_store, data, batch_id)
    roots = [o["objectId"] for o in data["objects"] if "identifierIds" not in o][:5]
    adapter = FailSome(set(roots), permanent=False)
    result = resolve(
        neo4j_store, batch_id, adapter, retry=RetryPolicy(attempts=3, initial=0.01, maximum=0.02)
    )
    assert result.status == "failed"
    sent = Counter(adapter.seen)
    assert all(sent[r] == 3 for r in roots), {r: sent[r] for r in roots}
    assert result.dispatched == len(sent), "an item sent again is dispatched once"
    objects = {o["objectId"]: o for o in neo4j_store.status(batch_id, detail=True).objectList or []}
    # a stored attempt counts what went out from a claim: the walk's send and the loop's claim
    # (the loop's retries of a claim are not claims of their own)
    for r in roots:
        assert objects[r]["status"] == "failed" and objects[r]["attempt"] == 2, objects[r]
    assert not [o for o in objects.values() if o["status"] in ("waiting", "ready", "creating")]


@pytest.mark.slow
def test_a_walk_killed_at_random_then_rerun_creates_everything_once(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    """``resolver run`` (simulate: it walks) SIGKILLed at a random moment, then run again on the
    same machine with leases of ten minutes: the rerun takes the dead walk back at once, and the
    two dispatch logs together hold every create, each child's carrying its parents'
    identifiers; only what the killed run sent and had not written goes out again."""
    data = generate(20_000, 40_000, seed=9)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RESOLVER_STORE"))},
        **neo4j_server.env(),
    }
    for trial in range(3):
        batch_id = delete_at_end(f"walk-crash-{trial}-{os.getpid()}-{time.time_ns() % 10**6}")
        batch = _load(neo4j_store, data, batch_id)
        logs = [tmp_path / f"{batch_id}-first.jsonl", tmp_path / f"{batch_id}-rerun.jsonl"]
        at = round(random.Random(trial).uniform(0.05, 0.9) * len(data["objects"]))
        cmd = [sys.executable, "-m", "resolver", "run", batch_id, "--lease", "600", "--dispatch-log"]
        first = subprocess.Popen([*cmd, str(logs[0])], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        while first.poll() is None and _lines(logs[0]) < at and time.monotonic() - t0 < 120:
            time.sleep(0.005)
        first.kill()
        _, err = first.communicate()
        assert first.returncode == -signal.SIGKILL, f"the run ended before the kill: {err}"
        assert neo4j_store.lease_holders(batch_id), "the kill left no walk to take back"
        rerun = subprocess.run(
            [*cmd, str(logs[1])], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert rerun.returncode == 0, rerun.stderr
        before = [json.loads(line) for line in logs[0].read_text().splitlines() if line.endswith("}")]
        after = [json.loads(line) for line in logs[1].read_text().splitlines()]
        again = {m["idempotencyKey"] for m in before} & {m["idempotencyKey"] for m in after}
        assert len(again) <= 3 * walk.CHUNK, f"{len(again)} sent again"
        merged = before + [m for m in after if m.get("idempotencyKey") not in again]
        check_dispatch_log(batch, merged)
        assert neo4j_store.status(batch_id).status == "complete"


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0
