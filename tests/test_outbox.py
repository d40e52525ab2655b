"""batch-complete is owed from the transition that finishes a batch until an adapter took it,
and reports come in bulk from the shell (``complete/fail --from``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resolver import reporting
from resolver.adapters import Created, Failed, ManualAdapter
from resolver.batchfile.loader import load_batch
from resolver.engine import RetryPolicy, resolve
from resolver.errors import UnknownItemError
from resolver.models import Message
from resolver.store.base import GraphStore

from .conftest import EXAMPLES, ROOT, Server, run_cli
from .slow_service import SlowService


class Notified:
    """A service that creates everything at once and counts the notices it gets; ``fail_notice``
    answers the first few with a failure."""

    def __init__(self, fail_notice: int = 0, permanent: bool = False) -> None:
        self.name = "notified"
        self.inline = True
        self.notices: list[Any] = []  # Any: the tests read batch-complete's keys
        self.fail_notice = fail_notice
        self.permanent = permanent

    def send(self, message: Message) -> Any:
        if message["kind"] == "batch-complete":
            self.notices.append(message)
            if len(self.notices) <= self.fail_notice:
                return Failed("the notice endpoint is down", permanent=self.permanent)
            return Created()
        return Created({"id": f"n-{message['objectId']}"} if message["kind"] == "create-object" else None)

    def close(self) -> None:
        pass


def _start(store: GraphStore, batch_id: str) -> None:
    store.load(load_batch(EXAMPLES / "catalog.json", batch_id), replace=True)
    assert store.validate(batch_id) == []


FAST = RetryPolicy(attempts=3, initial=0.001, maximum=0.001)


def test_the_run_that_finishes_delivers_once(store: GraphStore, batch_id: str) -> None:
    _start(store, batch_id)
    service = Notified()
    result = resolve(store, batch_id, service, retry=FAST)
    assert result.status == "complete" and result.undelivered is None
    [notice] = service.notices
    assert notice["idempotencyKey"] == f"{batch_id}/batch-complete" and notice["status"] == "complete"
    assert notice["objects"] == {"total": 15, "byStatus": {"complete": 15}}
    assert store.status(batch_id).to_json()["batchComplete"] == "delivered"
    assert store.owed(batch_id) is None
    resolve(store, batch_id, service, retry=FAST)  # a later run of a delivered batch: nothing more
    assert len(service.notices) == 1
    store.delete(batch_id)


def test_a_crash_between_delivery_and_mark_delivers_again_never_never(
    store: GraphStore, batch_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _start(store, batch_id)
    service = Notified()

    def crash(_: str) -> bool:
        raise KeyboardInterrupt("killed between the delivery and its mark")

    with monkeypatch.context() as m:
        m.setattr(store, "delivered", crash)
        with pytest.raises(KeyboardInterrupt):
            resolve(store, batch_id, service, retry=FAST)
    assert len(service.notices) == 1 and store.status(batch_id).batchComplete == "owed"
    again = resolve(store, batch_id, service, retry=FAST)
    assert again.undelivered is None
    assert [n["idempotencyKey"] for n in service.notices] == [f"{batch_id}/batch-complete"] * 2
    assert store.status(batch_id).batchComplete == "delivered"
    store.delete(batch_id)


def test_delivery_is_retried_and_a_refusal_stays_owed(store: GraphStore, batch_id: str) -> None:
    _start(store, batch_id)
    flaky = Notified(fail_notice=2)
    assert resolve(store, batch_id, flaky, retry=FAST).undelivered is None
    assert len(flaky.notices) == 3  # two transient failures, then taken
    store.delete(batch_id)
    _start(store, batch_id)
    refusing = Notified(fail_notice=99, permanent=True)
    result = resolve(store, batch_id, refusing, retry=FAST)
    assert result.status == "complete" and result.undelivered == "the notice endpoint is down"
    assert len(refusing.notices) == 1 and store.status(batch_id).batchComplete == "owed"
    assert resolve(store, batch_id, Notified(), retry=FAST).undelivered is None  # the next run
    assert store.status(batch_id).batchComplete == "delivered"
    store.delete(batch_id)


def test_status_json_says_nothing_of_it_while_unfinished(store: GraphStore, batch_id: str) -> None:
    _start(store, batch_id)
    resolve(store, batch_id, ManualAdapter(), once=True)
    assert "batchComplete" not in store.status(batch_id).to_json()
    store.delete(batch_id)


# -- from the shell ------------------------------------------------------------------------------


def _jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def _manual_once(
    env: dict[str, str], batch_id: str, log: Path, *, load: bool = False
) -> list[dict[str, Any]]:
    target = [str(EXAMPLES / "spring-catalog.json"), "--batch-id", batch_id] if load else [batch_id]
    done = run_cli("run", *target, "--adapter", "manual", "--once", "--dispatch-log", str(log), env=env)
    assert done.code == 4, done.err
    return [json.loads(x) for x in log.read_text().splitlines()]


@pytest.mark.neo4j
def test_bulk_completions_finish_the_batch_and_the_next_run_delivers(
    neo4j_server: Server, batch_id: str, tmp_path: Path
) -> None:
    env = neo4j_server.env()
    [first] = _manual_once(env, batch_id, tmp_path / "d.jsonl", load=True)
    assert first["objectId"] == "shirt"
    # a line that cannot be used: exit 2 naming it, nothing recorded
    shirt = {"objectId": "shirt", "identifierIds": {"id": "S-1"}}
    bad = _jsonl(tmp_path / "bad.jsonl", [shirt, {"objectId": 7}])
    got = run_cli("complete", batch_id, "--from", str(bad), env=env)
    assert got.code == 2 and "line 2" in got.err and len(got.err.strip().splitlines()) == 1, got.err
    unknown = _jsonl(tmp_path / "unknown.jsonl", [shirt, {"objectId": "ghost", "identifierIds": {"id": "G"}}])
    got = run_cli("complete", batch_id, "--from", str(unknown), env=env)
    assert got.code == 2 and "no object 'ghost'" in got.err
    st = run_cli("status", batch_id, "--json", env=env).json()
    assert st["objects"]["byStatus"] == {"complete": 1, "creating": 1, "waiting": 1}, "nothing recorded"
    # one refused (never dispatched: waiting), the other recorded; exit 1 naming the refused one
    red = {"objectId": "shirt-red", "identifierIds": {"id": "R"}}
    mixed = _jsonl(tmp_path / "mixed.jsonl", [shirt, red])
    got = run_cli("complete", batch_id, "--from", str(mixed), env=env)
    assert got.code == 1 and "refused: object shirt-red" in got.err and "1 recorded" in got.err, got.err
    # the release made shirt-red ready: the next pass dispatches it with its parent's ids
    second = _manual_once(env, batch_id, tmp_path / "d2.jsonl")
    assert second[-1]["parents"][0]["identifierIds"] == {"id": "S-1"}
    last = subprocess.run(
        [sys.executable, "-m", "resolver", "complete", batch_id, "--from", "-"],
        input=json.dumps({"objectId": "shirt-red", "identifierIds": {"id": "R-1"}}) + "\n",
        capture_output=True, text=True, env={**_base_env(), **env}, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert last.returncode == 0, last.stderr
    printed = json.loads(last.stdout.strip().splitlines()[-1])
    assert printed["kind"] == "batch-complete" and printed["idempotencyKey"] == f"{batch_id}/batch-complete"
    assert run_cli("status", batch_id, "--json", env=env).json()["batchComplete"] == "owed"
    with SlowService(delay=0) as svc:
        delivered = run_cli("run", batch_id, "--adapter", svc.url, env=env)
        assert delivered.code == 0, delivered.err
        again = run_cli("run", batch_id, "--adapter", svc.url, env=env)
        assert again.code == 0
        assert [r.message["kind"] for r in svc.requests] == ["batch-complete"]
    assert run_cli("status", batch_id, "--json", env=env).json()["batchComplete"] == "delivered"


@pytest.mark.neo4j
def test_bulk_failures_with_a_transient_one(neo4j_server: Server, batch_id: str, tmp_path: Path) -> None:
    env = neo4j_server.env()
    _manual_once(env, batch_id, tmp_path / "d.jsonl", load=True)
    again = _jsonl(tmp_path / "f.jsonl", [{"objectId": "shirt", "reason": "busy", "permanent": False}])
    got = run_cli("fail", batch_id, "--from", str(again), env=env)
    assert got.code == 0, got.err
    objects = {
        o["objectId"]: o
        for o in run_cli("status", batch_id, "--json", "--detail", env=env).json()["objectList"]
    }
    assert objects["shirt"]["status"] == "ready", "a transient failure sends it out again"
    _manual_once(env, batch_id, tmp_path / "d2.jsonl")
    final = _jsonl(tmp_path / "g.jsonl", [{"objectId": "shirt", "reason": "no such product"}])
    got = run_cli("fail", batch_id, "--from", str(final), env=env)
    assert got.code == 0, got.err
    st = run_cli("status", batch_id, "--json", "--detail", env=env).json()
    by_id = {o["objectId"]: o["status"] for o in st["objectList"]}
    assert by_id == {"acme": "complete", "shirt": "failed", "shirt-red": "blocked"}
    assert st["status"] == "failed" and st["batchComplete"] == "owed"
    repeat = run_cli("fail", batch_id, "--from", str(final), env=env)
    assert repeat.code == 0 and "1 already failed" in repeat.err, repeat.err


def test_reports_read_in_chunks_are_looked_up_as_read_and_written_after(
    store: GraphStore, batch_id: str
) -> None:
    """``complete --from``'s path: chunks are looked up while the next is read, yet an
    unusable line after an unknown item still wins, and neither records anything."""
    _start(store, batch_id)
    resolve(store, batch_id, ManualAdapter(), once=True)  # prod:shirt is among those dispatched
    shirt = json.dumps({"objectId": "prod:shirt", "identifierIds": {"id": "S-1"}})
    ghost = json.dumps({"objectId": "ghost", "identifierIds": {"id": "G"}})

    def record(lines: list[str]) -> list[reporting.ItemResult]:
        chunks = reporting.read_chunks(lines, "completion", "f.jsonl", size=2)
        return reporting.record_chunks(store, batch_id, chunks, "completion")

    before = store.status(batch_id).objects
    with pytest.raises(reporting.ReportError, match=r"f\.jsonl: line 7: "):
        record([shirt, ghost, shirt, shirt, shirt, shirt, '{"objectId": 7}'])
    with pytest.raises(UnknownItemError, match="no object 'ghost'"):
        record([shirt, shirt, shirt, shirt, ghost])
    assert store.status(batch_id).objects == before, "nothing recorded"
    results = record([shirt] * 5)
    assert [r.outcome for r in results] == ["recorded"] + ["already-complete"] * 4
    store.delete(batch_id)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RESOLVER_STORE"))}
