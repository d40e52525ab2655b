"""The python, command and http adapters, each against a real peer: a function in
``adapter_peers``, an executable script, a local HTTP server."""

from __future__ import annotations

import http.client
import json
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from resolver.adapters import make_adapter
from resolver.adapters.base import Accepted, Adapter, Created, Failed
from resolver.adapters.command import CommandAdapter
from resolver.adapters.errors import PermanentError
from resolver.adapters.http import HttpAdapter
from resolver.adapters.python import PythonAdapter
from resolver.batchfile.loader import load_batch
from resolver.engine import RetryPolicy, resolve
from resolver.errors import AdapterError
from resolver.models import CreateLink, CreateObject
from resolver.store.memory import MemoryStore
from tests import adapter_peers

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "spring-catalog.json"

OBJECT: CreateObject = {
    "kind": "create-object",
    "batchId": "b",
    "objectId": "shirt-red",
    "objectType": "variant",
    "fields": {"color": "red"},
    "idempotencyKey": "b/object/shirt-red",
    "parents": [
        {"linkId": "l1", "linkTag": "variantOf", "objectId": "shirt", "identifierIds": {"id": "p-shirt"}}
    ],
}
LINK: CreateLink = {
    "kind": "create-link",
    "batchId": "b",
    "linkId": "l2",
    "linkTag": "inCategory",
    "idempotencyKey": "b/link/l2",
    "child": {"objectId": "shirt", "identifierIds": {"id": "p-shirt"}},
    "parent": {"objectId": "summer", "identifierIds": {"id": "p-summer"}},
}


@pytest.fixture(autouse=True)
def _clean_peers() -> Iterator[None]:
    adapter_peers.reset()
    yield
    adapter_peers.reset()


# -- the batch every end-to-end test runs ---------------------------------------------------


def write_batch(tmp_path: Path, batch_id: str) -> Path:
    """spring-catalog plus a category and an independent link, so both kinds of create happen."""
    data = json.loads(EXAMPLE.read_text())
    data["batchId"] = batch_id
    data["objects"].append({"objectId": "summer", "objectType": "category"})
    data["links"].append(
        {
            "linkId": "l2",
            "objectId": "shirt",
            "referenceId": "summer",
            "linkTag": "inCategory",
            "linkType": "independent",
        }
    )
    path = tmp_path / f"{batch_id}.json"
    path.write_text(json.dumps(data))
    return path


def run_batch(tmp_path: Path, batch_id: str, adapter: Adapter, **kw: Any) -> tuple[MemoryStore, str]:
    batch = load_batch(write_batch(tmp_path, batch_id))
    store = MemoryStore()
    store.load(batch)
    assert store.validate(batch_id) == []
    try:
        result = resolve(store, batch_id, adapter, workers=4, poll=0.02, **kw)
    finally:
        adapter.close()
    return store, result.status


def check_complete(
    store: MemoryStore, batch_id: str, messages: list[dict[str, Any]], ids: Callable[[str], dict[str, Any]]
) -> None:
    """Every item complete; the child's create carried the ids the peer gave its parent
    (``ids(objectId)``)."""
    status = store.status(batch_id, detail=True)
    assert status.status == "complete"
    assert status.objectList is not None and status.linkList is not None
    objects = {row["objectId"]: row for row in status.objectList}
    assert {oid: row["status"] for oid, row in objects.items()} == dict.fromkeys(objects, "complete")
    assert objects["shirt"]["identifierIds"] == ids("shirt")
    assert objects["acme"]["identifierIds"] == {"brandId": "42"}  # existing: kept, never sent
    assert [row["status"] for row in status.linkList] == ["complete", "complete"]

    notices = [m for m in messages if m["kind"] == "batch-complete"]
    assert [(n["batchId"], n["status"]) for n in notices] == [(batch_id, "complete")]  # told once
    creates = [m for m in messages if m["kind"] != "batch-complete"]
    by_item = {str(m.get("objectId") or m.get("linkId")): m for m in creates}
    assert sorted(by_item) == ["l2", "shirt", "shirt-red", "summer"]  # acme and l1 never sent
    child = by_item["shirt-red"]
    assert child["kind"] == "create-object"
    assert child["parents"] == [
        {"linkId": "l1", "linkTag": "variantOf", "objectId": "shirt", "identifierIds": ids("shirt")}
    ]
    link = by_item["l2"]
    assert link["child"] == {"objectId": "shirt", "identifierIds": ids("shirt")}
    assert link["parent"] == {"objectId": "summer", "identifierIds": ids("summer")}
    assert all(m["idempotencyKey"].startswith(f"{batch_id}/") for m in messages)


# -- python --------------------------------------------------------------------------------


def test_python_created_for_objects_and_links() -> None:
    adapter = make_adapter("python:tests.adapter_peers:create")
    assert isinstance(adapter, PythonAdapter)
    assert (adapter.name, adapter.inline) == ("python", False)
    assert adapter.send(OBJECT) == Created({"id": "py-shirt-red", "version": 1})
    assert adapter.send(LINK) == Created(None)
    sent = adapter_peers.CALLS
    assert sent == [dict(OBJECT), dict(LINK)]


def test_python_gets_a_copy_of_the_message() -> None:
    message = json.loads(json.dumps(OBJECT))
    assert PythonAdapter("tests.adapter_peers:mutate").send(message) == Created({"id": "py-shirt-red"})
    assert message == OBJECT  # the engine's message is untouched
    assert adapter_peers.CALLS[0]["fields"] == {"color": "red", "scribbled": True}


@pytest.mark.parametrize("function", ["accept", "accept_instance"])
def test_python_accepted(function: str) -> None:
    adapter = PythonAdapter(f"tests.adapter_peers:{function}")
    assert adapter.send(OBJECT) == Accepted()
    assert adapter.send(LINK) == Accepted()


def test_python_permanent_error() -> None:
    result = PythonAdapter("tests.adapter_peers:reject").send(OBJECT)
    assert result == Failed("category shirt-red is not allowed", permanent=True)


def test_python_other_exception_is_transient() -> None:
    result = PythonAdapter("tests.adapter_peers:outage").send(OBJECT)
    assert result == Failed("ConnectionError: service down", permanent=False)


@pytest.mark.parametrize(
    ("function", "words"),
    [
        ("nothing", "returned no identifierIds"),
        ("nested", "value of 'id' is an object"),
        ("empty", "no identifierIds"),
        ("number", "got a number"),
    ],
)
def test_python_unusable_object_answers_are_permanent(function: str, words: str) -> None:
    result = PythonAdapter(f"tests.adapter_peers:{function}").send(OBJECT)
    assert isinstance(result, Failed) and result.permanent
    assert words in result.reason and "\n" not in result.reason


def test_python_link_answers() -> None:
    assert PythonAdapter("tests.adapter_peers:nothing").send(LINK) == Created(None)
    result = PythonAdapter("tests.adapter_peers:number").send(LINK)
    assert isinstance(result, Failed) and result.permanent and "int" in result.reason


def test_python_module_in_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "svc_in_cwd.py").write_text("def create(message):\n    return {'id': 'cwd'}\n")
    monkeypatch.chdir(tmp_path)
    # as under the `resolver` console script: neither "" nor the current directory on sys.path
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        assert PythonAdapter("svc_in_cwd:create").send(OBJECT) == Created({"id": "cwd"})
        assert sys.path[-1] == str(tmp_path)
    finally:
        sys.modules.pop("svc_in_cwd", None)


def test_python_end_to_end(tmp_path: Path) -> None:
    store, status = run_batch(tmp_path, "py-e2e", make_adapter("python:tests.adapter_peers:create"))
    assert status == "complete"
    check_complete(store, "py-e2e", adapter_peers.CALLS, lambda oid: {"id": f"py-{oid}", "version": 1})


def test_python_permanent_failure_end_to_end(tmp_path: Path) -> None:
    store, status = run_batch(tmp_path, "py-fail", make_adapter("python:tests.adapter_peers:reject"))
    assert status == "failed"
    objects = {r["objectId"]: r["status"] for r in store.status("py-fail", detail=True).objectList or []}
    assert objects["shirt"] == "failed"
    assert objects["shirt-red"] == "blocked"
    # permanent: each object was tried exactly once, its child never
    creates = [m for m in adapter_peers.CALLS if m["kind"] != "batch-complete"]
    assert sorted(m["objectId"] for m in creates) == ["shirt", "summer"]


def test_python_transient_failure_is_retried(tmp_path: Path) -> None:
    retry = RetryPolicy(attempts=3, initial=0.001, maximum=0.001)
    adapter = make_adapter("python:tests.adapter_peers:outage")
    store, status = run_batch(tmp_path, "py-retry", adapter, retry=retry)
    assert status == "failed"
    tries = [m["objectId"] for m in adapter_peers.CALLS if m["kind"] != "batch-complete"]
    assert tries.count("shirt") == 3 and tries.count("summer") == 3
    failures = {f["objectId"]: f for f in store.status("py-retry").failures if f["kind"] == "object"}
    assert failures["shirt"]["reason"] == "ConnectionError: service down"


# -- command -------------------------------------------------------------------------------

PEER_SCRIPT = """\
#!/usr/bin/env python3
import json, sys, time
mode, log = sys.argv[1], sys.argv[2]
message = json.load(sys.stdin)
with open(log, "a") as f:
    f.write(json.dumps(message) + "\\n")
if mode == "ok":
    if message["kind"] == "create-object":
        print(json.dumps({"id": "cmd-" + message["objectId"]}))
elif mode == "accepted":
    print("accepted")
elif mode == "accepted-json":
    print(json.dumps({"accepted": True}))
elif mode == "exit2":
    sys.stderr.write("checking fields\\nbad input: no title\\n\\n")
    sys.exit(2)
elif mode == "exit1":
    sys.stderr.write("database is locked\\n")
    sys.exit(1)
elif mode == "exit75":
    sys.exit(75)
elif mode == "sleep":
    time.sleep(30)
elif mode == "garbage":
    print("created it!")
elif mode == "array":
    print("[1, 2]")
elif mode == "silent":
    pass
"""


@pytest.fixture
def peer_script(tmp_path: Path) -> Path:
    path = tmp_path / "peer.py"
    path.write_text(PEER_SCRIPT)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def command(script: Path, mode: str, **kw: Any) -> tuple[CommandAdapter, Path]:
    log = script.parent / f"{mode}.log"
    return CommandAdapter(f"{script} {mode} {log}", **kw), log


def logged(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_command_created_for_objects_and_links(peer_script: Path) -> None:
    adapter, log = command(peer_script, "ok")
    assert (adapter.name, adapter.inline, adapter.timeout) == ("command", False, 60.0)
    assert adapter.send(OBJECT) == Created({"id": "cmd-shirt-red"})
    assert adapter.send(LINK) == Created(None)
    assert logged(log) == [dict(OBJECT), dict(LINK)]  # the message arrived whole on stdin


@pytest.mark.parametrize("mode", ["accepted", "accepted-json"])
def test_command_accepted(peer_script: Path, mode: str) -> None:
    adapter, _ = command(peer_script, mode)
    assert adapter.send(OBJECT) == Accepted()
    assert adapter.send(LINK) == Accepted()


def test_command_exit_2_is_permanent_with_last_stderr_line(peer_script: Path) -> None:
    adapter, _ = command(peer_script, "exit2")
    assert adapter.send(OBJECT) == Failed("peer.py exited with 2: bad input: no title", permanent=True)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("exit1", "peer.py exited with 1: database is locked"), ("exit75", "peer.py exited with 75")],
)
def test_command_other_exits_are_transient(peer_script: Path, mode: str, reason: str) -> None:
    adapter, _ = command(peer_script, mode)
    assert adapter.send(OBJECT) == Failed(reason, permanent=False)


def test_command_timeout_kills_and_is_transient(peer_script: Path) -> None:
    adapter, log = command(peer_script, "sleep", timeout=0.5)
    started = time.monotonic()
    result = adapter.send(OBJECT)
    assert time.monotonic() - started < 5
    assert result == Failed("peer.py timed out after 0.5s", permanent=False)
    assert logged(log) == [OBJECT]


def test_command_timeout_kills_grandchildren() -> None:
    # sh forks sleep, which holds stdout open: only killing the whole group returns promptly
    adapter = CommandAdapter("sh -c 'sleep 30; echo done'", timeout=0.3)
    started = time.monotonic()
    result = adapter.send(OBJECT)
    assert time.monotonic() - started < 5
    assert isinstance(result, Failed) and not result.permanent and "timed out" in result.reason


def test_command_invalid_json_is_transient(peer_script: Path) -> None:
    adapter, _ = command(peer_script, "garbage")
    result = adapter.send(OBJECT)
    assert isinstance(result, Failed) and not result.permanent
    assert "invalid JSON" in result.reason and "created it!" in result.reason


def test_command_unusable_answers_for_objects(peer_script: Path) -> None:
    silent, _ = command(peer_script, "silent")
    assert silent.send(OBJECT) == Failed("peer.py printed no identifierIds", permanent=True)
    assert silent.send(LINK) == Created(None)
    array, _ = command(peer_script, "array")
    result = array.send(OBJECT)
    assert isinstance(result, Failed) and result.permanent and "got an array" in result.reason


def test_command_end_to_end(tmp_path: Path, peer_script: Path) -> None:
    adapter, log = command(peer_script, "ok")
    store, status = run_batch(tmp_path, "cmd-e2e", adapter)
    assert status == "complete"
    check_complete(store, "cmd-e2e", logged(log), lambda oid: {"id": f"cmd-{oid}"})


# -- http ----------------------------------------------------------------------------------


class PeerServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # do not wait for /slow at shutdown
    request_queue_size = 128  # the thread-safety test connects 40 at once

    def __init__(self, handler: type[BaseHTTPRequestHandler] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), handler or PeerHandler)
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # /slow's client gave up: fine
            super().handle_error(request, client_address)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class PeerHandler(BaseHTTPRequestHandler):
    server: PeerServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, code: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.seen.append(
                {
                    "path": self.path,
                    "key": self.headers.get("Idempotency-Key"),
                    "type": self.headers.get("Content-Type"),
                    "message": message,
                    "port": self.client_address[1],
                }
            )
        if self.path == "/ok":
            if message["kind"] == "create-object":
                self.answer(201, json.dumps({"id": f"http-{message['objectId']}"}).encode())
            else:
                self.answer(204)
        elif self.path == "/accepted":
            self.answer(202, b'{"queued": true}')
        elif self.path == "/bad":
            self.answer(400, b"field 'title' is required\n" + b"x" * 500)
        elif self.path == "/down":
            self.answer(503, b"try later")
        elif self.path == "/busy":
            self.answer(429)
        elif self.path == "/slow":
            time.sleep(1.5)
            self.answer(201, b'{"id": "late"}')
        elif self.path == "/garbage":
            self.answer(200, b"<html>oops</html>")
        elif self.path == "/nested":
            self.answer(200, b'{"id": [1]}')
        elif self.path == "/redirect":
            self.answer(302, Location="/ok")
        else:
            self.answer(404, b"no such route")


class KeepAliveHandler(PeerHandler):
    """HTTP/1.1: the connection stays open for the next request."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True


class ForgetfulHandler(KeepAliveHandler):
    """Closes every connection after its answer without saying so, as a service does with a
    connection that sat idle past its keep-alive timeout."""

    def answer(self, code: int, body: bytes = b"", **headers: str) -> None:
        super().answer(code, body, **headers)
        self.close_connection = True


PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler] | None = None) -> Iterator[PeerServer]:
    srv = PeerServer(handler)
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's proxy settings must not reroute these tests' POSTs."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def http_peer(no_proxies: None) -> Iterator[PeerServer]:
    with serving() as srv:
        yield srv


def test_http_created_and_idempotency_key(http_peer: PeerServer) -> None:
    adapter = make_adapter(f"http:{http_peer.base}/ok")
    assert isinstance(adapter, HttpAdapter)
    assert (adapter.name, adapter.inline) == ("http", False)
    assert adapter.send(OBJECT) == Created({"id": "http-shirt-red"})
    assert adapter.send(LINK) == Created(None)
    assert [(s["key"], s["type"], s["message"]) for s in http_peer.seen] == [
        ("b/object/shirt-red", "application/json", OBJECT),
        ("b/link/l2", "application/json", LINK),
    ]


def test_http_bare_url_spec(http_peer: PeerServer) -> None:
    adapter = make_adapter(f"{http_peer.base}/ok")  # "http://..." is an http spec too
    assert adapter.send(OBJECT) == Created({"id": "http-shirt-red"})


def test_http_accepted(http_peer: PeerServer) -> None:
    adapter = HttpAdapter(f"{http_peer.base}/accepted")
    assert adapter.send(OBJECT) == Accepted()
    assert adapter.send(LINK) == Accepted()


def test_http_400_is_permanent_with_clipped_body(http_peer: PeerServer) -> None:
    result = HttpAdapter(f"{http_peer.base}/bad").send(OBJECT)
    assert isinstance(result, Failed) and result.permanent
    assert result.reason.startswith("HTTP 400: field 'title' is required xxx")
    assert len(result.reason) <= len("HTTP 400: ") + 200 and "\n" not in result.reason
    assert HttpAdapter(f"{http_peer.base}/nowhere").send(LINK) == Failed("HTTP 404: no such route", True)


def test_http_transient_statuses(http_peer: PeerServer) -> None:
    assert HttpAdapter(f"{http_peer.base}/down").send(OBJECT) == Failed("HTTP 503: try later", False)
    assert HttpAdapter(f"{http_peer.base}/busy").send(OBJECT) == Failed("HTTP 429", False)


def test_http_redirect_is_not_followed(http_peer: PeerServer) -> None:
    result = HttpAdapter(f"{http_peer.base}/redirect").send(OBJECT)
    assert result == Failed("HTTP 302: redirect to /ok not followed", permanent=True)
    assert [s["path"] for s in http_peer.seen] == ["/redirect"]


def test_http_bad_bodies(http_peer: PeerServer) -> None:
    garbage = HttpAdapter(f"{http_peer.base}/garbage").send(OBJECT)
    assert isinstance(garbage, Failed) and not garbage.permanent and "not JSON" in garbage.reason
    nested = HttpAdapter(f"{http_peer.base}/nested").send(OBJECT)
    assert isinstance(nested, Failed) and nested.permanent and "'id'" in nested.reason
    assert HttpAdapter(f"{http_peer.base}/garbage").send(LINK) == Created(None)


def test_http_timeout_is_transient(http_peer: PeerServer) -> None:
    started = time.monotonic()
    result = HttpAdapter(f"{http_peer.base}/slow", timeout=0.2).send(OBJECT)
    assert time.monotonic() - started < 1.4
    assert isinstance(result, Failed) and not result.permanent and "timed out" in result.reason


def test_http_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = HttpAdapter(f"http://127.0.0.1:{port}/x", timeout=2).send(OBJECT)
    assert isinstance(result, Failed) and not result.permanent
    assert result.reason.startswith(f"POST http://127.0.0.1:{port}/x: ") and "refused" in result.reason


def test_http_is_thread_safe(http_peer: PeerServer) -> None:
    adapter = HttpAdapter(f"{http_peer.base}/ok")
    messages: list[dict[str, Any]] = [
        {**OBJECT, "objectId": f"o{i}", "idempotencyKey": f"b/object/o{i}"} for i in range(40)
    ]
    results: dict[str, Any] = {}

    def send(m: dict[str, Any]) -> None:
        results[m["objectId"]] = adapter.send(m)  # type: ignore[arg-type]

    threads = [threading.Thread(target=send, args=(m,)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {f"o{i}": Created({"id": f"http-o{i}"}) for i in range(40)}
    assert sorted(s["key"] for s in http_peer.seen) == sorted(m["idempotencyKey"] for m in messages)


@pytest.mark.usefixtures("no_proxies")
def test_http_keeps_each_threads_connection_open() -> None:
    with serving(KeepAliveHandler) as srv:
        adapter = HttpAdapter(f"{srv.base}/ok")
        results = [adapter.send({**OBJECT, "idempotencyKey": f"b/object/o{i}"}) for i in range(5)]
        other: list[Any] = []
        thread = threading.Thread(target=lambda: other.append(adapter.send(LINK)))
        thread.start()
        thread.join(10)
        adapter.close()
    assert results == [Created({"id": "http-shirt-red"})] * 5 and other == [Created(None)]
    ports = [s["port"] for s in srv.seen]
    assert len(ports) == 6 and len(set(ports[:5])) == 1 and ports[5] != ports[0]


@pytest.mark.usefixtures("no_proxies")
def test_http_connection_closed_while_kept_is_sent_again() -> None:
    """Each POST after the first finds its connection closed by the service: it goes again on a
    new one, once, and the service sees each POST once."""
    with serving(ForgetfulHandler) as srv:
        adapter = HttpAdapter(f"{srv.base}/ok")
        results = []
        for i in range(3):
            results.append(adapter.send({**OBJECT, "idempotencyKey": f"b/object/o{i}"}))
            time.sleep(0.05)  # the service's close reaches this side before the next POST
    assert results == [Created({"id": "http-shirt-red"})] * 3
    assert [s["key"] for s in srv.seen] == [f"b/object/o{i}" for i in range(3)]
    assert len({s["port"] for s in srv.seen}) == 3


@pytest.mark.usefixtures("no_proxies")
@pytest.mark.parametrize(
    ("url", "where"),
    [("http://[::1]/x", ("::1", 80)), ("https://[::1]/x", ("::1", 443)), ("http://h:81/x", ("h", 81))],
)
def test_http_connects_to_the_urls_host_and_port(
    url: str, where: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, int]] = []

    def connect(conn: http.client.HTTPConnection) -> None:
        asked.append((conn.host, conn.port))
        raise ConnectionRefusedError("refused here")

    monkeypatch.setattr(http.client.HTTPConnection, "connect", connect)
    result = HttpAdapter(url).send(OBJECT)
    assert asked == [where]
    assert result == Failed(f"POST {url}: refused here", permanent=False)


@pytest.mark.usefixtures("no_proxies")
def test_http_goes_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with serving() as proxy:
        monkeypatch.setenv("http_proxy", proxy.base)
        result = HttpAdapter("http://target.invalid/ok").send(OBJECT)
    # a proxy is asked for the absolute URL; this one knows no such route
    assert result == Failed("HTTP 404: no such route", permanent=True)
    assert [s["path"] for s in proxy.seen] == ["http://target.invalid/ok"]


def test_http_end_to_end(tmp_path: Path, http_peer: PeerServer) -> None:
    store, status = run_batch(tmp_path, "http-e2e", make_adapter(f"http:{http_peer.base}/ok"))
    assert status == "complete"
    messages = [s["message"] for s in http_peer.seen]
    check_complete(store, "http-e2e", messages, lambda oid: {"id": f"http-{oid}"})
    assert all(s["key"] == s["message"]["idempotencyKey"] for s in http_peer.seen)


# -- bad specs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("python:nope.nope:f", "cannot import 'nope.nope'"),
        ("python:tests.adapter_peers:missing", "has no attribute 'missing'"),
        ("python:tests.adapter_peers:not_callable", "'not_callable' is a int, not a function"),
        ("python:tests.adapter_peers", "expected MODULE:FUNCTION"),
        ("command:/no/such/program", "no such program '/no/such/program'"),
        ("command:no-such-program-xyz --flag", "'no-such-program-xyz' not found on PATH"),
        ("command:prog 'unclosed", "No closing quotation"),
        ("http:ftp://x", "need http:// or https:// and a host"),
        ("http://", "need http:// or https:// and a host"),
        ("http:localhost:8080/create", "need http:// or https:// and a host"),
        ("http:http://host:notaport/x", "bad URL"),
        ("python:", "unknown adapter"),
    ],
)
def test_make_adapter_bad_specs(spec: str, words: str) -> None:
    with pytest.raises(AdapterError) as info:
        make_adapter(spec)
    message = str(info.value)
    assert words in message
    assert "\n" not in message


def test_command_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "plain.txt"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(AdapterError, match="is not executable"):
        make_adapter(f"command:{script}")


def test_permanent_error_is_an_exception() -> None:
    assert issubclass(PermanentError, Exception)
    assert not issubclass(PermanentError, AdapterError)
