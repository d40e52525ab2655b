"""Tests of the local Neo4j provisioning: cheap ones on fake homes, one real server on free ports."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from resolver.cli.servers import neo4j as neo4j_cli
from resolver.errors import ResolverError
from resolver.local import browser as browser_assets
from resolver.local import neo4j as neo4j_local
from resolver.local.neo4j import NEO4J_VERSION, LocalNeo4jError, running, start, status, stop
from resolver.local.process import free_ports


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own settings must not leak into what these tests expect.
    for name in ("RESOLVER_NEO4J_HOME", "RESOLVER_NEO4J_BOLT_PORT", "RESOLVER_NEO4J_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)


def _fake_installed(home: Path, password: str = "s3cret-password-123") -> Path:
    """A home that looks installed, without 140 MB of jars."""
    (home / "lib").mkdir(parents=True)
    (home / "lib" / "RESOLVER_NEO4J_VERSION").write_text(NEO4J_VERSION + "\n")
    (home / "password").write_text(password + "\n")
    return home


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _read_conf(home: Path) -> dict[str, str]:
    lines = (home / "conf" / "neo4j.conf").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "Neo4j rejects a setting declared twice"
    return dict(pairs)


# --- cheap tests: no JVM -------------------------------------------------------------------------


def test_error_is_a_resolver_error() -> None:
    assert issubclass(LocalNeo4jError, ResolverError)
    assert LocalNeo4jError("x").exit_code == 1


def test_conf_rendering(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    extra = {
        "browser.post_connect_cmd": "style http://127.0.0.1:1/a.grass",
        "server.memory.pagecache.size": "256m",
    }
    settings = neo4j_local._write_conf(tmp_path, 17001, 17002, extra)
    conf = _read_conf(tmp_path)
    assert conf == settings
    assert conf["server.bolt.listen_address"] == "127.0.0.1:17001"
    assert conf["server.bolt.advertised_address"] == "127.0.0.1:17001"
    assert conf["server.http.listen_address"] == "127.0.0.1:17002"
    assert conf["server.http.advertised_address"] == "127.0.0.1:17002"
    assert conf["server.https.enabled"] == "false"
    for name in ("data", "logs", "run", "import"):
        assert conf[f"server.directories.{name}"] == str(tmp_path / name)
        assert Path(conf[f"server.directories.{name}"]).is_absolute()
    assert conf["server.memory.heap.initial_size"] == "2g"
    assert conf["server.memory.heap.max_size"] == "2g"
    assert conf["server.memory.pagecache.size"] == "256m"  # the caller's value wins
    assert conf["dbms.usage_report.enabled"] == "false"
    assert conf["db.tx_log.rotation.retention_policy"] == "1 files"
    assert conf["browser.post_connect_cmd"] == "style http://127.0.0.1:1/a.grass"


def test_conf_is_rewritten_at_every_render(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    neo4j_local._write_conf(tmp_path, 17001, 17002, {"a.b": "1"})
    neo4j_local._write_conf(tmp_path, 17003, 17004, {})
    conf = _read_conf(tmp_path)
    assert conf["server.bolt.listen_address"] == "127.0.0.1:17003"
    assert "a.b" not in conf


@pytest.mark.parametrize(("key", "value"), [("a.b", "x\ny"), ("bad key", "1"), ("a=b", "1")])
def test_conf_rejects_unsafe_extra_settings(tmp_path: Path, key: str, value: str) -> None:
    (tmp_path / "conf").mkdir()
    with pytest.raises(LocalNeo4jError, match="invalid Neo4j setting"):
        neo4j_local._write_conf(tmp_path, 17001, 17002, {key: value})


def test_heap_settings_become_jvm_flags() -> None:
    flags = neo4j_local._heap_flags
    assert flags({"server.memory.heap.initial_size": "512m", "server.memory.heap.max_size": "2g"}) == [
        "-Xms512m",
        "-Xmx2g",
    ]
    assert flags({"server.memory.heap.max_size": "1GiB"}) == ["-Xmx1g"]
    # the shipped initial size never ends up above a smaller max
    assert flags({"server.memory.heap.initial_size": "2g", "server.memory.heap.max_size": "1024m"}) == [
        "-Xms1024m",
        "-Xmx1024m",
    ]
    assert flags({"server.memory.heap.max_size": "lots"}) == []


def test_install_writes_a_0600_password_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / "lib").mkdir(parents=True)
    (home / "lib" / "RESOLVER_NEO4J_VERSION").write_text(NEO4J_VERSION)  # skips the Maven fetch
    calls: list[tuple[list[str], dict[str, Any]]] = []

    def fake_run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append((cmd, kwargs))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(neo4j_local, "_java", lambda: "/fake/java")
    monkeypatch.setattr(subprocess, "run", fake_run)  # the module neo4j_local calls
    old_umask = os.umask(0)  # a permissive umask must not widen the password file
    try:
        assert neo4j_local.install(home, echo=lambda _: None) == home.resolve()
    finally:
        os.umask(old_umask)
    password = (home / "password").read_text().strip()
    assert stat.S_IMODE((home / "password").stat().st_mode) == 0o600
    assert len(password) >= 16 and not password.startswith("-")
    [(cmd, kwargs)] = calls
    assert cmd[:3] == ["/fake/java", "-cp", f"{home.resolve()}/lib/*"]
    assert cmd[3:] == ["org.neo4j.cli.AdminTool", "dbms", "set-initial-password", password]
    assert kwargs["env"]["NEO4J_HOME"] == str(home.resolve())
    assert kwargs["env"]["NEO4J_CONF"] == str(home.resolve() / "conf")
    assert (home / "conf" / "neo4j.conf").is_file()  # the admin tool finds the data dir there
    for name in ("data", "logs", "run", "import", "plugins"):
        assert (home / name).is_dir()

    neo4j_local.install(home, echo=lambda _: None)
    assert len(calls) == 1, "a second install must not reset the password"
    assert (home / "password").read_text().strip() == password

    server = status(home)
    assert server is not None
    assert (server.password, server.version, server.pid, server.username) == (
        password,
        NEO4J_VERSION,
        None,
        "neo4j",
    )
    assert (server.bolt_port, server.http_port) == (7687, 7474)


def test_install_refuses_a_new_password_for_an_existing_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _fake_installed(tmp_path)
    (home / "password").unlink()
    (home / "data" / "databases" / "system").mkdir(parents=True)
    monkeypatch.setattr(neo4j_local, "_java", lambda: "/fake/java")
    with pytest.raises(LocalNeo4jError, match="password is missing"):
        neo4j_local.install(home, echo=lambda _: None)


def test_default_home_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOLVER_NEO4J_HOME", str(tmp_path / "custom"))
    assert neo4j_local.default_home() == (tmp_path / "custom").resolve()
    monkeypatch.setenv("RESOLVER_NEO4J_HOME", "")  # empty counts as unset

    checkout = tmp_path / "checkout"
    (checkout / "resolver" / "local").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\n")
    monkeypatch.setattr(neo4j_local, "_PACKAGE_DIR", checkout / "resolver" / "local")
    assert neo4j_local.default_home() == checkout / ".neo4j"

    site = tmp_path / "site-packages"
    (site / "resolver" / "local").mkdir(parents=True)
    monkeypatch.setattr(neo4j_local, "_PACKAGE_DIR", site / "resolver" / "local")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert neo4j_local.default_home() == tmp_path / "user" / ".cache" / "resolver" / "neo4j"


def test_ports_json_round_trip_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_installed(tmp_path)
    assert neo4j_local.PORTS.choose(home, None, None) == (7687, 7474)
    (home / "ports.json").write_text(json.dumps({"bolt": 17001, "http": 17002}))
    server = status(home)
    assert server is not None
    assert (server.bolt_port, server.http_port) == (17001, 17002)
    assert server.uri == "bolt://127.0.0.1:17001"
    assert server.browser_url == "http://127.0.0.1:17002/browser/"
    assert neo4j_local.PORTS.choose(home, None, None) == (17001, 17002)  # remembered

    monkeypatch.setenv("RESOLVER_NEO4J_BOLT_PORT", "17011")
    assert neo4j_local.PORTS.choose(home, None, None) == (17011, 17002)  # env beats remembered
    assert neo4j_local.PORTS.choose(home, 17021, 17022) == (17021, 17022)  # arguments beat env
    status_after = status(home)
    assert status_after is not None and status_after.bolt_port == 17001  # status reports the saved one

    monkeypatch.setenv("RESOLVER_NEO4J_BOLT_PORT", "seven")
    with pytest.raises(LocalNeo4jError, match="RESOLVER_NEO4J_BOLT_PORT"):
        neo4j_local.PORTS.choose(home, None, None)
    with pytest.raises(LocalNeo4jError, match="must differ"):
        neo4j_local.PORTS.choose(home, 17030, 17030)

    (home / "ports.json").write_text("{not json")
    monkeypatch.delenv("RESOLVER_NEO4J_BOLT_PORT")
    assert neo4j_local.PORTS.choose(home, None, None) == (7687, 7474)


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(LocalNeo4jError, match=r"Maven \('mvn'\).*not on PATH"):
        neo4j_local.install(tmp_path / "home", echo=lambda _: None)
    assert not (tmp_path / "home" / "lib").exists()


def test_java_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojdk"))
    with pytest.raises(LocalNeo4jError, match="has no bin/java"):
        neo4j_local._java()
    jdk = tmp_path / "jdk11"
    (jdk / "bin").mkdir(parents=True)
    fake = jdk / "bin" / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(jdk))
    with pytest.raises(LocalNeo4jError, match=r"needs Java 17 or newer.*Java 11"):
        neo4j_local._java()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"21.0.2\" 2024-01-16' >&2\n")
    assert neo4j_local._java() == str(fake)


def test_error_lines_are_picked_from_tool_output() -> None:
    maven = (
        "\x1b[0m\x1b[0m[ERROR] Failed to execute goal on project x: Could not resolve dependencies\n"
        "[ERROR] \n"
        "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.\n"
        "[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/DependencyResolutionException\n"
    )
    assert neo4j_local._maven_error(maven).startswith("Failed to execute goal on project")
    log = (
        "2026-01-01 00:00:00.000+0000 INFO  Starting...\n"
        "2026-01-01 00:00:01.000+0000 ERROR Failed to start Neo4j on 127.0.0.1:7474.\n"
        "java.lang.RuntimeException: boom\n"
        "\tat org.neo4j.Foo.bar(Foo.java:1)\n"
        "Caused by: java.net.BindException: Address already in use\n"
        "\tat sun.nio.ch.Net.bind(Native Method)\n"
        "\t... 12 more\n"
    )
    assert (
        neo4j_local._meaningful_line(log, "-") == "Caused by: java.net.BindException: Address already in use"
    )
    assert neo4j_local._meaningful_line("2026-01-01 00:00:00.000+0000 INFO  Starting...\n", "-") == (
        "INFO  Starting..."
    )
    assert neo4j_local._meaningful_line("", "nothing") == "nothing"


def test_nothing_installed(tmp_path: Path) -> None:
    assert status(tmp_path) is None
    assert running(tmp_path) is None
    assert stop(tmp_path) is False


def test_stale_pid_file_never_kills_a_stranger(tmp_path: Path) -> None:
    home = _fake_installed(tmp_path)
    (home / "run").mkdir()
    (home / "run" / "resolver-neo4j.pid").write_text(f"{os.getpid()}\n")  # alive, but not Neo4j
    server = status(home)
    assert server is not None and server.pid is None
    assert stop(home) is False
    assert not (home / "run" / "resolver-neo4j.pid").exists()


def test_busy_port_is_reported_before_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_installed(tmp_path)
    monkeypatch.setattr(neo4j_local, "_java", lambda: "/fake/java")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        [http] = free_ports(1)
        with pytest.raises(LocalNeo4jError, match=f"bolt port {port} .* already in use"):
            start(home, bolt_port=port, http_port=http, echo=lambda _: None)


def test_cli_on_a_home_without_a_server(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(neo4j_cli, ["status", "--home", str(tmp_path)])
    assert result.exit_code == 3
    assert "installed: no" in result.output
    result = runner.invoke(neo4j_cli, ["stop", "--home", str(tmp_path)])
    assert result.exit_code == 0
    assert "not running" in result.output


def test_cli_reports_errors_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    (port,) = free_ports(1)
    monkeypatch.setenv("RESOLVER_ASSETS_PORT", str(port))
    result = CliRunner().invoke(neo4j_cli, ["start", "--home", str(tmp_path / "home")])
    assert result.exit_code == 1
    assert "error: Maven ('mvn')" in result.output
    assert "Traceback" not in result.output
    # the Browser assets server it started first goes too: nothing is left holding the port
    assert not (tmp_path / "home" / "run" / "resolver-assets.pid").exists()
    assert not browser_assets.is_serving(port)


def test_cli_start_reports_a_taken_assets_port_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("RESOLVER_ASSETS_PORT", str(taken.getsockname()[1]))
        result = CliRunner().invoke(neo4j_cli, ["start", "--home", str(tmp_path / "home")])
    assert result.exit_code == 1
    assert result.output.startswith("error: port ") and "in use by something else" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "home" / "conf" / "neo4j.conf").exists()  # Neo4j was not started


# --- a real server -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("neo4j-home")
    yield home
    stop(home)  # whatever a failing test left behind


# Small sizes: the suite shares two cores with this server.
_SMALL = {"server.memory.heap.max_size": "1g", "server.memory.pagecache.size": "128m"}


@pytest.mark.neo4j
def test_real_server_starts_answers_and_stops(live_home: Path) -> None:
    bolt, http = free_ports(2)
    assert 7687 not in (bolt, http) and 7474 not in (bolt, http)
    server = start(live_home, bolt_port=bolt, http_port=http, extra_conf=_SMALL, echo=lambda _: None)
    pid = server.pid
    assert pid is not None
    try:
        assert (server.bolt_port, server.http_port, server.version) == (bolt, http, NEO4J_VERSION)
        with socket.create_connection(("127.0.0.1", bolt), timeout=5):
            pass
        with urllib.request.urlopen(server.browser_url, timeout=30) as response:
            assert response.status == 200
        assert b"-Xmx1g" in Path(f"/proc/{pid}/cmdline").read_bytes()

        now = status(live_home)
        assert now is not None and now.pid == pid and _pid_alive(pid)
        assert running(live_home) == server
        again = start(live_home, echo=lambda _: None)
        assert again.pid == pid, "a second start must reuse the running server"

        try:
            from neo4j import GraphDatabase
        except ImportError:  # the driver is optional here: Bolt answering is the contract
            pass
        else:
            with GraphDatabase.driver(server.uri, auth=(server.username, server.password)) as driver:
                records, _, _ = driver.execute_query("RETURN 1 AS one", database_="neo4j")
                assert records[0]["one"] == 1

        # the store, its logs and the password are the owner's alone
        for folder in ("data", "logs", "run"):
            assert stat.S_IMODE((live_home / folder).stat().st_mode) == 0o700, folder
            for path in (live_home / folder).rglob("*"):
                want = 0o700 if path.is_dir() else 0o600
                assert path.is_symlink() or stat.S_IMODE(path.stat().st_mode) == want, path
        assert stat.S_IMODE((live_home / "password").stat().st_mode) == 0o600

        result = CliRunner().invoke(neo4j_cli, ["status", "--home", str(live_home)])
        assert result.exit_code == 0, result.output
        assert server.password in result.output and server.uri in result.output
    finally:
        stopped = stop(live_home)
    assert stopped is True
    assert not _pid_alive(pid)
    after = status(live_home)
    assert after is not None and after.pid is None
    assert running(live_home) is None
    assert stop(live_home) is False


@pytest.mark.neo4j
def test_real_server_that_dies_reports_its_log(live_home: Path) -> None:
    bolt, http = free_ports(2)
    bad = {**_SMALL, "dbms.no_such_setting": "1"}  # strict config validation makes Neo4j exit
    with pytest.raises(LocalNeo4jError, match="exited while starting") as err:
        start(live_home, bolt_port=bolt, http_port=http, extra_conf=bad, echo=lambda _: None)
    assert "no_such_setting" in str(err.value)
    assert not (live_home / "run" / "resolver-neo4j.pid").exists()
    assert running(live_home) is None


def test_start_waits_while_the_database_recovers(tmp_path: Path) -> None:
    """After an unclean stop Neo4j replays its transaction log before it serves Bolt; start must
    not kill it at the timeout while the debug log still reports progress, and must give up once
    the progress stops."""
    import threading
    import time

    (tmp_path / "logs").mkdir()
    debug = tmp_path / "logs" / "debug.log"
    debug.write_text("2026-01-01 00:00:00.000+0000 INFO  [o.n.k.r.Recovery] [neo4j/1]  10% completed\n")
    [bolt] = free_ports(1)

    def recover() -> None:
        for pct in range(20, 80, 10):
            time.sleep(0.4)
            with debug.open("a") as f:
                f.write(
                    f"2026-01-01 00:00:00.000+0000 INFO  [o.n.k.r.Recovery] [neo4j/1]  {pct}% completed\n"
                )

    writer = threading.Thread(target=recover)
    proc = subprocess.Popen(["sleep", "60"])
    try:
        started = time.monotonic()
        writer.start()
        with pytest.raises(LocalNeo4jError, match=f"did not serve Bolt on {bolt} in 1 s"):
            neo4j_local._wait_ready(tmp_path, proc.pid, bolt, proc, timeout=1)
        waited = time.monotonic() - started
    finally:
        proc.kill()
        proc.wait()
        writer.join()
    # six progress lines 0.4 s apart kept it waiting past its 1 s timeout, then 1 s more
    assert 2.4 + 1 <= waited < 2.4 + 3
