"""Fixtures: a Neo4j server picked as the README says (NEO4J_URI, else the local server started
once per session, else testcontainers when a Docker engine answers), and the store under test.

With CI=true nothing skips: a test that would skip (no server, a missing tool) fails instead, with
the reason; elsewhere it is skipped with the reason. NATS JetStream comes the same way
(``nats_server``): RESOLVER_NATS_URL, else a local server per session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from resolver.local.process import free_ports
from resolver.store.base import GraphStore
from resolver.store.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Server:
    uri: str
    username: str
    password: str
    http_url: str
    version: str
    source: str
    stop: Any = None  # how to stop it, when this session started it

    def env(self) -> dict[str, str]:
        return {"NEO4J_URI": self.uri, "NEO4J_USERNAME": self.username, "NEO4J_PASSWORD": self.password}


def _from_env() -> Server | None:
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        return None
    return Server(
        uri,
        os.environ.get("NEO4J_USERNAME", "neo4j"),
        os.environ.get("NEO4J_PASSWORD", ""),
        os.environ.get("NEO4J_HTTP_URL", ""),
        "",
        "NEO4J_URI",
    )


def _from_local() -> Server:
    from resolver.local import neo4j as neo4j_local

    was_running = neo4j_local.running() is not None
    s = neo4j_local.start(echo=lambda line: print(line, file=sys.stderr))
    return Server(
        s.uri,
        s.username,
        s.password,
        f"http://127.0.0.1:{s.http_port}",
        s.version,
        f"local server in {s.home}",
        stop=None if was_running else neo4j_local.stop,
    )


def _from_container() -> Server:
    from testcontainers.neo4j import Neo4jContainer

    container = Neo4jContainer("neo4j:5.26")
    container.start()
    return Server(
        container.get_connection_url(),
        "neo4j",
        container.password,
        "",
        "5.26",
        "testcontainers",
        stop=container.stop,
    )


def _find_server() -> tuple[Server | None, list[str]]:
    reasons: list[str] = []
    server = _from_env()
    if server:
        return server, reasons
    try:
        return _from_local(), reasons
    except Exception as exc:
        reasons.append(f"local server: {exc}")
    try:
        return _from_container(), reasons
    except Exception as exc:
        reasons.append(f"testcontainers: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    return None, reasons


_SERVER: dict[str, Any] = {}
# The ids batch_id and delete_at_end gave out: the session deletes them from Neo4j at its end,
# since a local server keeps its data from one run of the suite to the next.
_BATCH_IDS: list[str] = []


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Server]:
    server, reasons = _find_server()
    if server is None:
        message = "no Neo4j server: " + "; ".join(reasons)
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from resolver.store.neo4j import Neo4jStore

    probe = Neo4jStore(server.uri, server.username, server.password)
    try:
        server.version = probe.server_version()
    finally:
        probe.close()
    _SERVER["server"] = server
    yield server
    if server.stop is not None:
        server.stop()


@pytest.fixture(scope="session")
def neo4j_store(neo4j_server: Server) -> Iterator[GraphStore]:
    from resolver.store.neo4j import Neo4jStore

    store = Neo4jStore(neo4j_server.uri, neo4j_server.username, neo4j_server.password)
    store.ensure_schema()
    yield store
    for made in _BATCH_IDS:
        store.delete(made)
    store.close()


@pytest.fixture(params=["memory", "neo4j"])
def store(request: pytest.FixtureRequest) -> GraphStore:
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("neo4j_store")  # type: ignore[no-any-return]


@pytest.fixture
def assets_port() -> Iterator[int]:
    """The Browser style and guide served on a free 127.0.0.1 port for the test."""
    from resolver.local.browser import serve_in_thread

    server = serve_in_thread(0)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def batch_id() -> str:
    return delete_at_end(f"t-{uuid.uuid4().hex[:10]}")


def delete_at_end(made: str) -> str:
    """A batch id the session deletes from Neo4j when it ends (a test that fails leaves none)."""
    _BATCH_IDS.append(made)
    return made


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a skip is a failure: what the suite cannot check there, it has not checked."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {reason}"


@dataclass
class Broker:
    url: str
    user: str
    password: str
    source: str

    def env(self) -> dict[str, str]:
        return {
            "RESOLVER_NATS_URL": self.url,
            "RESOLVER_NATS_USER": self.user,
            "RESOLVER_NATS_PASSWORD": self.password,
        }


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A NATS JetStream server: the one RESOLVER_NATS_URL (with _USER and _PASSWORD) names, else a
    local one in a session home on free ports, stopped at the end."""
    url = os.environ.get("RESOLVER_NATS_URL")
    if url:
        broker = Broker(
            url,
            os.environ.get("RESOLVER_NATS_USER", ""),
            os.environ.get("RESOLVER_NATS_PASSWORD", ""),
            "RESOLVER_NATS_URL",
        )
        _SERVER["nats"] = broker
        yield broker
        return
    from resolver.local import nats as local_nats

    home = tmp_path_factory.mktemp("nats-session")
    port, monitor = free_ports(2)
    try:
        s = local_nats.start(
            home, port=port, monitor_port=monitor, echo=lambda line: print(line, file=sys.stderr)
        )
    except local_nats.LocalNatsError as exc:
        message = f"no NATS server: local server: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    broker = Broker(s.url, s.user, s.password, f"local nats-server {s.version} in {s.home}")
    _SERVER["nats"] = broker
    try:
        yield broker
    finally:
        local_nats.stop(home)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    server = _SERVER.get("server")
    if server is not None:
        terminalreporter.write_line(
            f"Neo4j tests ran against Neo4j {server.version} at {server.uri} ({server.source})"
        )
    broker = _SERVER.get("nats")
    if broker is not None:
        terminalreporter.write_line(f"NATS tests ran against {broker.url} ({broker.source})")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> Run:
    """The real command in a subprocess, as a user would run it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RESOLVER_STORE"))}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "resolver", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def cli_env(store_name: str, server: Server | None) -> dict[str, str]:
    if store_name == "memory":
        return {"RESOLVER_STORE": "memory"}
    assert server is not None
    return server.env()
