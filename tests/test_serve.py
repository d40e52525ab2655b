"""``resolver serve``: the real command on free ports against Neo4j, with services that answer 202
and report back through the ``reply`` URL (``tests/callback_service.py``), in this process.

- runs end to end, the service reporting one item a request and 100 a request: every item
  created once (after deduplication), children with their parents' identifierIds, one
  batch-complete;
- serve SIGKILLed at random points of runs and restarted: the same, and how many duplicates the
  service dropped;
- bad input: each gets its status and one line, nothing changes, a canary batch stays as it was;
- SIGTERM: serve stops within seconds and gives its claims back;
- the Python client, against a serve and against a store.

Every batch id starts with this module's prefix and serve resumes only those
(``--resume-prefix``): the Neo4j may be shared with other suites. Run with ``-s`` to see the
figures.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resolver import ItemResult, NotAwaitingError, ServiceClient, StoreClient
from resolver.adapters import ManualAdapter
from resolver.batchfile.loader import batch_from_dict
from resolver.engine import resolve
from resolver.errors import ServiceError, ServiceUnavailableError, UnknownItemError
from resolver.generate import generate
from resolver.local.process import free_ports
from resolver.reporting import ReportError
from resolver.store.memory import MemoryStore
from resolver.store.neo4j import Neo4jStore

from .callback_service import CallbackService
from .conftest import EXAMPLES, ROOT, Server
from .slow_service import SlowService

PREFIX = f"srv-{os.getpid()}-{uuid.uuid4().hex[:4]}-"
KILL_TRIALS = 10  # random points enough to meet every phase of a run: submit, claims, reports, finish
MAX_BODY = 1_000_000  # the shared serve's --max-body: the generated batches here fit


# -- a serve process ----------------------------------------------------------------------------


def _env(server: Server, home: Path, token: str | None) -> dict[str, str]:
    drop = ("NEO4J_", "RESOLVER_STORE", "RESOLVER_API_TOKEN", "RESOLVER_SERVE_HOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(server.env(), RESOLVER_SERVE_HOME=str(home))
    if token is not None:
        env["RESOLVER_API_TOKEN"] = token
    return env


class Serve:
    """``resolver serve --port PORT ARGS...`` in its own process, started once it answers."""

    def __init__(self, port: int, args: list[str], env: dict[str, str], log: Path) -> None:
        self.port = port
        self.args = args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Serve:
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "resolver", "serve", "--port", str(self.port), *self.args],
                env=self.env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}: {self.stderr()}"
            try:
                if call(self.url, "GET", "/v1/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve did not answer within {timeout}s: {self.stderr()}")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self, timeout: float = 30) -> tuple[int, float]:
        """SIGTERM; the exit code and how long it took."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - t0


def call(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request; the status and the JSON answer (None when the body is not JSON)."""
    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        status, answer = response.status, response.read()
    finally:
        conn.close()
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, None


def q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def wait_finished(base: str, token: str, batch_id: str, timeout: float = 90) -> dict[str, Any]:
    """Poll until the batch is finished and its batch-complete delivered."""
    deadline = time.monotonic() + timeout
    answer: Any = None
    while time.monotonic() < deadline:
        status, answer = call(base, "GET", f"/v1/batches/{q(batch_id)}", token)
        if (
            status == 200
            and answer["status"] in ("complete", "failed")
            and answer.get("batchComplete") == "delivered"
        ):
            return dict(answer)
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not finish within {timeout}s: {answer}")


# -- what the service must have seen --------------------------------------------------------------


def expected_keys(data: dict[str, Any], batch_id: str) -> set[str]:
    keys = {f"{batch_id}/object/{o['objectId']}" for o in data["objects"] if "identifierIds" not in o}
    for link in data["links"]:
        if link["linkType"].lower() == "independent" or link.get("separateDependentLinkCreate"):
            keys.add(f"{batch_id}/link/{link['linkId']}")
    return keys


def check_run(svc: SlowService, data: dict[str, Any], batch_id: str, store: Neo4jStore, base: str) -> int:
    """Each expected item created once after deduplication, nothing else; every create carried
    its parents' identifierIds as the service answered them and the reply URLs; the store ended
    with those identifierIds; exactly one batch-complete (its duplicates counted as one). Returns
    how many duplicates of this batch the service dropped."""
    mine = [r for r in svc.requests if r.message.get("batchId") == batch_id]
    notices = [r for r in mine if r.message.get("kind") == "batch-complete"]
    creates = [r for r in mine if r.message.get("kind") != "batch-complete"]
    assert {r.key for r in creates if r.outcome != "failed"} == expected_keys(data, batch_id)
    created = Counter(r.key for r in creates if r.outcome == "created")
    assert max(created.values()) == 1, created.most_common(3)
    duplicates = sum(r.outcome == "duplicate" for r in mine)
    assert {r.key for r in notices} == {f"{batch_id}/batch-complete"}, [r.key for r in notices]
    told = [r for r in notices if r.outcome == "created"]
    assert len(told) == 1 and told[0].message["status"] == "complete", (len(notices), duplicates)

    existing = {o["objectId"]: o["identifierIds"] for o in data["objects"] if "identifierIds" in o}
    alias = {r["referenceId"]: r["objectId"] for r in data.get("references", [])}
    parents: dict[str, dict[str, str]] = defaultdict(dict)
    for link in data["links"]:
        if link["linkType"].lower() == "dependent":
            parents[link["objectId"]][link["linkId"]] = alias.get(link["referenceId"], link["referenceId"])

    def ids(object_id: str) -> Any:
        return existing.get(object_id) or svc.answers.get(f"{batch_id}/object/{object_id}")

    reply = f"{base}/v1/batches/{q(batch_id)}"
    for r in creates:
        m = r.message
        assert r.key == m["idempotencyKey"] and m["batchId"] == batch_id
        assert m["reply"] == {"url": f"{reply}/completions", "failuresUrl": f"{reply}/failures"}
        if m["kind"] == "create-object":
            got = {p["linkId"]: (p["objectId"], p["identifierIds"]) for p in m["parents"]}
            want = {lid: (pid, ids(pid)) for lid, pid in parents[m["objectId"]].items()}
            assert got == want, f"{r.key} carried parents {got}, the service answered {want}"
        else:
            for end in (m["child"], m["parent"]):
                assert end["identifierIds"] == ids(end["objectId"]), f"{r.key}: {end}"
    final = store.status(batch_id, detail=True)
    assert final.status == "complete" and final.batchComplete == "delivered"
    assert final.objectList is not None
    for o in final.objectList:
        assert o["status"] == "complete" and o["identifierIds"] == ids(o["objectId"]), o
    return duplicates


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve-home")


@pytest.fixture(scope="module")
def shared(
    neo4j_server: Server, neo4j_store: Neo4jStore, home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Serve, CallbackService, str]]:
    """One serve (its token generated into its home, as on a first start) and the service it
    dispatches to, for the tests that do not stop it."""
    env = _env(neo4j_server, home, None)
    shown = subprocess.run(
        [sys.executable, "-m", "resolver", "serve", "--show-token"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    token = shown.stdout.strip()
    logs = tmp_path_factory.mktemp("serve-logs")
    with CallbackService(token, delay=0.001) as svc:
        (port,) = free_ports(1)
        args = [
            "--adapter", svc.url, "--resume-prefix", f"{PREFIX}shared-", "--max-body", str(MAX_BODY),
            "--lease", "5", "--dispatch-log", str(logs / "dispatch.jsonl"),
        ]  # fmt: skip
        serve = Serve(port, args, env, logs / "serve.err").start()
        try:
            yield serve, svc, token
        finally:
            code, _ = serve.stop()
            assert "Traceback" not in serve.stderr(), serve.stderr()
            assert code == 128 + signal.SIGTERM, serve.stderr()
            for batch_id in neo4j_store.batch_ids():
                if batch_id.startswith(PREFIX):
                    neo4j_store.delete(batch_id)


def _dispatched_elsewhere(store: Neo4jStore, data: dict[str, Any], batch_id: str) -> list[dict[str, Any]]:
    """Load the batch and dispatch its first wave in this process (no runner in serve): the
    create messages, items awaiting a report."""
    store.load(batch_from_dict({**data, "batchId": batch_id}))
    assert store.validate(batch_id) == []
    sent: list[dict[str, Any]] = []
    resolve(store, batch_id, ManualAdapter(), once=True, on_message=lambda m: sent.append(dict(m)))
    return sent


# -- 1. runs end to end -------------------------------------------------------------------------------


@pytest.mark.neo4j
@pytest.mark.parametrize("bulk", [1, 100], ids=["single-reports", "bulk-100"])
def test_a_service_that_reports_later_gets_every_batch_done(
    shared: tuple[Serve, CallbackService, str], neo4j_store: Neo4jStore, bulk: int
) -> None:
    serve, svc, token = shared
    svc.bulk = bulk
    catalog = json.loads((EXAMPLES / "catalog.json").read_text())
    bigger = generate(150 if bulk == 1 else 400, 300 if bulk == 1 else 800, seed=11 + bulk)
    batches = {f"{PREFIX}shared-{bulk}-catalog": catalog, f"{PREFIX}shared-{bulk}-gen": bigger}
    t0 = time.monotonic()
    for batch_id, data in batches.items():  # both at once: a runner each
        status, answer = call(serve.url, "POST", f"/v1/batches?batchId={q(batch_id)}", token, data)
        assert (status, answer) == (201, {"batchId": batch_id, "status": "processing", "errors": []})
    for batch_id, data in batches.items():
        final = wait_finished(serve.url, token, batch_id)
        assert final["status"] == "complete", final
        duplicates = check_run(svc, data, batch_id, neo4j_store, serve.url)
        assert duplicates == 0, f"no crash, yet the service dropped {duplicates} duplicates"
    assert not svc.errors and not svc.no_reply and not svc.refused, (svc.errors, svc.no_reply, svc.refused)
    items = sum(len(expected_keys(d, b)) for b, d in batches.items())
    print(
        f"serve, {'one item' if bulk == 1 else f'{bulk} items'} a report: {items} creates in "
        f"{time.monotonic() - t0:.1f}s, {svc.report_requests} report requests"
    )


# -- 2. SIGKILL at random points, then restart -------------------------------------------------------


@pytest.mark.neo4j
@pytest.mark.slow
def test_serve_killed_at_random_then_restarted_finishes_every_batch_once(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex
    env = _env(neo4j_server, tmp_path, token)
    data = generate(120, 200, seed=21)
    expected = len(expected_keys(data, "x"))
    dropped: list[int] = []
    started = time.monotonic()
    prefix = f"{PREFIX}kill-"
    with CallbackService(token, delay=0.002) as svc:
        (port,) = free_ports(1)
        args = ["--adapter", svc.url, "--resume-prefix", prefix, "--lease", "1", "--workers", "4"]
        serve = Serve(port, args, env, tmp_path / "serve.err").start()
        try:
            for trial in range(KILL_TRIALS):
                svc.reset()
                batch_id = f"{prefix}{trial}"
                at = max(1, round(random.Random(trial).uniform(0.02, 1.0) * expected))
                t0 = time.monotonic()
                status, answer = call(serve.url, "POST", f"/v1/batches?batchId={q(batch_id)}", token, data)
                assert status == 201, answer
                while svc.received < at and time.monotonic() - t0 < 60:
                    time.sleep(0.002)
                serve.kill()
                seen = svc.received
                killed_at = time.monotonic() - t0
                serve.start()
                final = wait_finished(serve.url, token, batch_id)
                assert final["status"] == "complete", final
                duplicates = check_run(svc, data, batch_id, neo4j_store, serve.url)
                assert not svc.errors and not svc.no_reply, (svc.errors, svc.no_reply)
                dropped.append(duplicates)
                print(
                    f"kill trial {trial}: killed at {killed_at:.2f}s after {seen}/{expected} creates, "
                    f"done {time.monotonic() - t0:.2f}s after the submit, {duplicates} duplicates dropped"
                )
        finally:
            code, _ = serve.stop()
        assert code == 128 + signal.SIGTERM and "Traceback" not in serve.stderr(), serve.stderr()
    print(
        f"kill test: {KILL_TRIALS} trials, {sum(dropped)} duplicates dropped by the service "
        f"(per trial {dropped}) in {time.monotonic() - started:.0f}s"
    )


# -- 3. bad input ------------------------------------------------------------------------------------


def _bad(status: int, answer: Any, code: int) -> str:
    """The one-line error of a ``code`` answer."""
    assert status == code, (status, answer)
    assert isinstance(answer, dict) and set(answer) == {"error"}, answer
    line = answer["error"]
    assert isinstance(line, str) and line and "\n" not in line and "Traceback" not in line
    return line


@pytest.mark.neo4j
def test_bad_requests_get_their_status_and_one_line_and_change_nothing(
    shared: tuple[Serve, CallbackService, str], neo4j_store: Neo4jStore
) -> None:
    serve, svc, token = shared
    base = serve.url
    catalog = json.loads((EXAMPLES / "catalog.json").read_text())
    canary_id = f"{PREFIX}canary"
    canary = _dispatched_elsewhere(neo4j_store, generate(30, 40, seed=5), canary_id)
    before = neo4j_store.status(canary_id, detail=True)
    batch_id = f"{PREFIX}bad/one"  # a '/' in the id: one path segment all the same
    sent = _dispatched_elsewhere(neo4j_store, catalog, batch_id)
    objects = [m for m in sent if m["kind"] == "create-object"]
    assert len(objects) >= 3
    item = {"objectId": objects[0]["objectId"], "identifierIds": {"id": "A-0"}}
    path = f"/v1/batches/{q(batch_id)}/completions"
    theirs = next(m["objectId"] for m in canary if m["kind"] == "create-object")

    def unchanged() -> None:
        assert neo4j_store.status(canary_id, detail=True) == before
        st = neo4j_store.status(batch_id, detail=True)
        assert st.objectList is not None
        creating = {o["objectId"] for o in st.objectList if o["status"] == "creating"}
        assert {m["objectId"] for m in objects} <= creating

    assert "missing token" in _bad(*call(base, "POST", path, None, [item]), 401)
    assert _bad(*call(base, "POST", path, "wrong-" + token, [item]), 401) == "wrong token"
    assert _bad(*call(base, "GET", "/v1/batches", None), 401)
    unchanged()
    assert "larger than the limit" in _bad(
        *call(base, "POST", path, token, raw=b"[" + b" " * MAX_BODY + b"]"), 413
    )
    assert "larger than the limit" in _chunked_too_large(base, path, token)
    assert "not JSON" in _bad(*call(base, "POST", path, token, raw=b'[{"objectId": '), 400)
    assert "unknown batch" in _bad(
        *call(base, "POST", f"/v1/batches/{PREFIX}none/completions", token, [item]), 404
    )
    assert "unknown batch" in _bad(*call(base, "GET", f"/v1/batches/{PREFIX}none", token), 404)
    unknown = [item, {"objectId": "no-such-object", "identifierIds": {"id": "x"}}]
    assert "has no object 'no-such-object'" in _bad(*call(base, "POST", path, token, unknown), 404)
    # an item of the canary (awaiting its report there) reported to this batch
    other = [item, {"objectId": theirs, "identifierIds": {"id": "x"}}]
    assert f"has no object {theirs!r}" in _bad(*call(base, "POST", path, token, other), 404)
    malformed = [item, {"objectId": objects[1]["objectId"]}]  # no identifierIds
    assert (
        _bad(*call(base, "POST", path, token, malformed), 400)
        == "item 1: identifierIds is required for an object"
    )
    assert _bad(*call(base, "POST", path, token, {"objectId": "x"}), 400).startswith("expected a JSON array")
    assert "no such endpoint" in _bad(*call(base, "GET", "/v1/nothing", token), 404)
    assert "maxDepth" in _bad(
        *call(base, "GET", f"/v1/batches/{q(batch_id)}/objects/x/explain?maxDepth=0", token), 422
    )
    status, answer = call(base, "POST", "/v1/batches", token, raw=b'{"objects": [{"objectId": 1}]}')
    assert _bad(status, answer, 400).startswith("request body: objects[0]")
    assert "already exists" in _bad(
        *call(base, "POST", f"/v1/batches?batchId={q(canary_id)}", token, catalog), 409
    )
    unchanged()

    # an item not awaiting a report is refused with its status, the others are recorded
    waiting = next(o for o in catalog["objects"] if o["objectId"] == "price:shirt-red")["objectId"]
    mixed = [item, {"objectId": waiting, "identifierIds": {"id": "too-soon"}}]
    status, answer = call(base, "POST", path, token, mixed)
    assert status == 200, answer
    assert answer == {
        "results": [
            {"objectId": item["objectId"], "outcome": "recorded", "status": "complete"},
            {"objectId": waiting, "outcome": "refused", "status": "waiting"},
        ]
    }
    again = call(base, "POST", path, token, [item])
    assert again == (
        200,
        {"results": [{"objectId": item["objectId"], "outcome": "already-complete", "status": "complete"}]},
    )
    assert neo4j_store.status(canary_id, detail=True) == before

    # the rest reported here, wave by wave: no runner in serve works on this batch, yet its
    # last report finishes it and the service gets its batch-complete through the adapter
    for _ in range(20):
        st = neo4j_store.status(batch_id, detail=True)
        if st.status != "processing":
            break
        assert st.objectList is not None and st.linkList is not None
        todo: list[dict[str, Any]] = [
            {"objectId": o["objectId"], "identifierIds": {"id": f"A-{o['objectId']}"}}
            for o in st.objectList
            if o["status"] == "creating"
        ]
        todo += [{"linkId": lk["linkId"]} for lk in st.linkList if lk["status"] == "creating"]
        assert call(base, "POST", path, token, todo)[0] == 200
        resolve(neo4j_store, batch_id, ManualAdapter(), once=True)  # the next wave, dispatched elsewhere
    final = wait_finished(base, token, batch_id, timeout=30)
    assert final["status"] == "complete"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _notices(svc, batch_id):
        time.sleep(0.02)
    assert [r.message["status"] for r in _notices(svc, batch_id)] == ["complete"]
    assert neo4j_store.status(canary_id, detail=True) == before


def _notices(svc: SlowService, batch_id: str) -> list[Any]:
    return [
        r
        for r in svc.requests
        if r.message.get("kind") == "batch-complete" and r.message["batchId"] == batch_id
    ]


def _chunked_too_large(base: str, path: str, token: str) -> str:
    """A body with no Content-Length (chunked) that grows past the limit: refused while it is
    read. The client stops once past the limit, then reads the answer."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        chunk = b"[" + b" " * 65535
        sent = 0
        while sent <= MAX_BODY:
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 20:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head_part, _, body = answer.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 413"), answer[:300]
    return _bad(413, json.loads(body), 413)


# -- 4. SIGTERM -----------------------------------------------------------------------------------------


@pytest.mark.neo4j
def test_sigterm_stops_serve_in_seconds_and_gives_its_claims_back(
    neo4j_server: Server, neo4j_store: Neo4jStore, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex
    env = _env(neo4j_server, tmp_path, token)
    data = generate(200, 300, seed=31)
    batch_id = f"{PREFIX}term"
    with SlowService(delay=0.02) as svc:  # answers at once (200), slowly: claims are leased
        (port,) = free_ports(1)
        args = ["--adapter", svc.url, "--resume-prefix", batch_id, "--lease", "60", "--workers", "4"]
        serve = Serve(port, args, env, tmp_path / "serve.err").start()
        try:
            status, answer = call(serve.url, "POST", f"/v1/batches?batchId={q(batch_id)}", token, data)
            assert status == 201, answer
            while svc.received < 40:
                time.sleep(0.005)
        finally:
            code, took = serve.stop()
        assert code == 128 + signal.SIGTERM, serve.stderr()
        assert took < 5, f"SIGTERM took {took:.1f}s"
        assert "Traceback" not in serve.stderr()
        st = neo4j_store.status(batch_id)
        assert st.status == "processing" and "creating" not in st.objects, st.objects
        # the next run does not wait for the 60 s leases: it finishes at once
        t0 = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "resolver", "run", batch_id, "--adapter", svc.url, "--lease", "60"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        ran = time.monotonic() - t0
        assert run.returncode == 0, run.stderr
        assert ran < 30, f"the run after serve took {ran:.1f}s"
        creates = Counter(r.key for r in svc.requests if r.outcome == "created")
        assert set(creates) == expected_keys(data, batch_id) | {f"{batch_id}/batch-complete"}
        print(f"SIGTERM: serve stopped in {took:.2f}s, the next run finished in {ran:.1f}s")
    neo4j_store.delete(batch_id)


# -- 5. the token -----------------------------------------------------------------------------------------


def test_the_generated_token_is_kept_private_and_stable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RESOLVER_API_TOKEN", "RESOLVER_SERVE_HOME"))
    }
    env["RESOLVER_SERVE_HOME"] = str(home)
    first, second = (
        subprocess.run(
            [sys.executable, "-m", "resolver", "serve", "--show-token"],
            env=env,
            capture_output=True,
            text=True,
        )
        for _ in range(2)
    )
    assert first.returncode == second.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert len(token) >= 40 and second.stdout.strip() == token
    assert stat.S_IMODE((home / "token").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "token").read_text().strip() == token
    env["RESOLVER_API_TOKEN"] = "from-the-environment"
    shown = subprocess.run(
        [sys.executable, "-m", "resolver", "serve", "--show-token"], env=env, capture_output=True, text=True
    )
    assert shown.stdout.strip() == "from-the-environment"


# -- 6. the Python client -----------------------------------------------------------------------------------


def _client_flow(client: ServiceClient | StoreClient, store: Neo4jStore, batch_id: str) -> None:
    """Single and bulk reports through ``client`` for a batch dispatched elsewhere."""
    catalog = json.loads((EXAMPLES / "catalog.json").read_text())
    sent = _dispatched_elsewhere(store, catalog, batch_id)
    objects = [m["objectId"] for m in sent if m["kind"] == "create-object"]
    first = client.complete(batch_id, objects[0], {"id": "C-0"})
    assert first == ItemResult("object", objects[0], "recorded", "complete")
    assert client.complete(batch_id, objects[0], {"id": "C-0"}).outcome == "already-complete"
    with pytest.raises(NotAwaitingError, match=r"status: waiting"):
        client.complete(batch_id, "price:shirt-red", {"id": "too-soon"})
    with pytest.raises(ReportError, match="reason must be"):
        client.report(batch_id, "failure", [{"objectId": objects[1], "reason": ""}])
    failed = client.fail(batch_id, object_id=objects[1], reason="upstream said no")
    assert failed == ItemResult("object", objects[1], "recorded", "failed")
    results = client.report(
        batch_id, "completion", [{"objectId": o, "identifierIds": {"id": f"C-{o}"}} for o in objects[2:]]
    )
    assert [(r.item_id, r.outcome) for r in results] == [(o, "recorded") for o in objects[2:]]
    assert client.status(batch_id)["objects"]["byStatus"]["failed"] == 1
    if isinstance(client, StoreClient):
        with pytest.raises(UnknownItemError):
            client.complete_link(batch_id, "no-such-link")
    else:
        with pytest.raises(ServiceError, match="has no link 'no-such-link'") as caught:
            client.complete_link(batch_id, "no-such-link")
        assert caught.value.status == 404


@pytest.mark.neo4j
def test_the_python_client_reports_to_a_serve_and_to_a_store(
    shared: tuple[Serve, CallbackService, str], neo4j_store: Neo4jStore
) -> None:
    serve, _, token = shared
    with ServiceClient(serve.url, token) as client:
        _client_flow(client, neo4j_store, f"{PREFIX}client-http")
    _client_flow(StoreClient(neo4j_store), neo4j_store, f"{PREFIX}client-store")
    with pytest.raises(ServiceError, match="wrong token") as caught:
        ServiceClient(serve.url, "nope").status(f"{PREFIX}client-http")
    assert caught.value.status == 401
    (dead,) = free_ports(1)
    with pytest.raises(ServiceUnavailableError, match="cannot reach"):
        ServiceClient(f"http://127.0.0.1:{dead}", token).complete_link("b", "l")


# -- in-process: the app's own rules ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")  # its own client, as is
def test_every_route_but_health_and_the_api_page_needs_the_token() -> None:
    from fastapi.testclient import TestClient

    from resolver.service import Runners, create_app

    app = create_app(Runners(MemoryStore(), ManualAdapter()), "t0ken")
    with TestClient(app) as client:
        for route in app.routes:
            path = getattr(route, "path", "")
            for method in getattr(route, "methods", set()) - {"HEAD"}:
                url = path.replace("{batchId}", "b").replace("{objectId}", "o")
                answer = client.request(method, url)
                if path in ("/v1/health", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"):
                    assert answer.status_code == 200, path
                else:
                    assert answer.status_code == 401, (method, path)
                    assert set(answer.json()) == {"error"}


def test_a_report_wakes_its_batch_at_once() -> None:
    """A chain on the memory store, its runner polling only every 30 s: each report releases the
    next object, and the runner dispatches it at once."""
    from resolver.service import Runners, RunOptions

    n = 20
    data = {
        "linkTags": {"next": {"childType": "t", "parentType": "t"}},
        "objects": [{"objectId": f"o{i}", "objectType": "t"} for i in range(n)],
        "links": [
            {
                "linkId": f"l{i}",
                "objectId": f"o{i}",
                "referenceId": f"o{i - 1}",
                "linkTag": "next",
                "linkType": "dependent",
            }
            for i in range(1, n)
        ],
    }
    store = MemoryStore()
    store.load(batch_from_dict({**data, "batchId": "chain"}))
    assert store.validate("chain") == []
    sent: list[str] = []
    runners = Runners(
        store,
        ManualAdapter(),
        RunOptions(poll=30.0),
        on_message=lambda m: sent.append(str(m.get("objectId", ""))),
    )
    from resolver.reporting import parse_items

    t0 = time.monotonic()
    try:
        runners.start("chain")
        for i in range(n):
            deadline = time.monotonic() + 5
            while f"o{i}" not in sent and time.monotonic() < deadline:
                time.sleep(0.001)
            assert f"o{i}" in sent, f"o{i} not dispatched within 5 s of its parent's report"
            items = parse_items([{"objectId": f"o{i}", "identifierIds": {"id": str(i)}}], "completion")
            runners.record("chain", "completion", items)
        deadline = time.monotonic() + 5
        while store.status("chain").batchComplete != "delivered" and time.monotonic() < deadline:
            time.sleep(0.001)
        took = time.monotonic() - t0
    finally:
        runners.close(5)
    assert store.status("chain").status == "complete"
    assert took < 5, f"{n} levels took {took:.1f}s: the reports did not wake the runner"


def test_resume_takes_only_the_prefixes_it_is_given() -> None:
    from resolver.service import Runners

    catalog = json.loads((EXAMPLES / "catalog.json").read_text())
    store = MemoryStore()
    for batch_id in ("mine-1", "theirs-1"):
        store.load(batch_from_dict({**catalog, "batchId": batch_id}))
        store.validate(batch_id)
    runners = Runners(store, ManualAdapter(), resume_prefixes=["mine-"])
    try:
        assert runners.resume() == ["mine-1"]
    finally:
        runners.close(5)
    assert store.batch_status("theirs-1") == "loaded"


def test_the_cli_starts_without_the_service_and_shows_its_real_body_limit() -> None:
    """The CLI imports FastAPI and uvicorn only for `serve`, so `serve --help` shows the
    service's default body limit in words: they must agree."""
    from resolver.cli.serve import MAX_BODY_SHOWN
    from resolver.service import DEFAULT_MAX_BODY

    assert divmod(DEFAULT_MAX_BODY, 2**20) == (int(MAX_BODY_SHOWN.removesuffix(" MiB")), 0)
    probe = "import sys, resolver.cli; print(sorted({'fastapi', 'uvicorn'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
