"""``resolver neo4j start|stop|status`` and ``resolver nats start|stop|status``: the local servers
for development and tests."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import NoReturn

import click

from ..errors import LocalServerError
from ..local import browser as browser_assets
from ..local import nats as local_nats
from ..local import neo4j as neo4j_local
from ..local.nats import LocalNats
from ..local.neo4j import LocalServer
from .app import cli

__all__ = ["nats", "neo4j"]

_neo4j_home = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server directory [default: $RESOLVER_NEO4J_HOME, .neo4j in a checkout, ~/.cache/resolver/neo4j]",
)


def _progress(message: str) -> None:
    # Progress goes to stderr so that stdout carries only the connection details.
    click.echo(message, err=True)


def _fail(e: LocalServerError | OSError) -> NoReturn:
    click.echo(f"error: {e}", err=True)
    sys.exit(e.exit_code if isinstance(e, LocalServerError) else LocalServerError.exit_code)


def _echo_neo4j_login(server: LocalServer) -> None:
    click.echo(f"Bolt URI:  {server.uri}")
    click.echo(f"Browser:   {server.browser_url}")
    click.echo(f"Username:  {server.username}")
    click.echo(f"Password:  {server.password}")


@cli.group("neo4j")
def neo4j() -> None:
    """Run a local Neo4j Community server (no Docker: jars from Maven Central, Java 17+)."""


@neo4j.command("start")
@_neo4j_home
@click.option("--bolt-port", type=click.IntRange(1, 65535), default=None, help="[default: 7687]")
@click.option("--http-port", type=click.IntRange(1, 65535), default=None, help="[default: 7474]")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait for Bolt.")
def neo4j_start(home: Path | None, bolt_port: int | None, http_port: int | None, timeout: float) -> None:
    """Install on first use, start the server unless it runs, print how to connect."""
    try:
        # Browser loads the shipped style and guide from this tiny 127.0.0.1 server on connect
        where = home if home is not None else neo4j_local.default_home()
        (where / "run").mkdir(parents=True, exist_ok=True)
        assets_pid = where / "run" / "resolver-assets.pid"
        port = browser_assets.ensure_running(pid_file=assets_pid)
    except (LocalServerError, OSError) as e:
        _fail(e)
    try:
        server = neo4j_local.start(
            home,
            bolt_port=bolt_port,
            http_port=http_port,
            timeout=timeout,
            echo=_progress,
            extra_conf=browser_assets.browser_conf(port),
        )
    except LocalServerError as e:
        # without a Neo4j nothing fetches the assets; a server left here would hold the port
        browser_assets.stop(assets_pid)
        _fail(e)
    click.echo(f"Neo4j {server.version} is running (pid {server.pid}) from {server.home}")
    _echo_neo4j_login(server)
    click.echo(
        f"Connect the resolver with: export NEO4J_URI={server.uri} "
        f"NEO4J_USERNAME={server.username} NEO4J_PASSWORD={server.password}"
    )


@neo4j.command("stop")
@_neo4j_home
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds before SIGKILL.")
def neo4j_stop(home: Path | None, timeout: float) -> None:
    """Stop the server if it runs."""
    try:
        stopped = neo4j_local.stop(home, timeout=timeout)
        where = home if home is not None else neo4j_local.default_home()
        browser_assets.stop(where / "run" / "resolver-assets.pid")
    except LocalServerError as e:
        _fail(e)
    click.echo("Neo4j stopped." if stopped else "Neo4j was not running.")


@neo4j.command("status")
@_neo4j_home
def neo4j_status(home: Path | None) -> None:
    """Show whether the server is installed and running, and its login. Exit 0 running, 3 not."""
    try:
        server = neo4j_local.status(home)
        up = neo4j_local.running(home) is not None
    except LocalServerError as e:
        _fail(e)
    if server is None:
        where = home if home is not None else neo4j_local.default_home()
        click.echo(f"installed: no (home {where}); `resolver neo4j start` installs and starts it")
        sys.exit(3)
    click.echo(f"installed: yes, Neo4j {server.version} in {server.home}")
    if up:
        click.echo(f"running:   yes (pid {server.pid})")
    elif server.pid is not None:
        click.echo(f"running:   no; pid {server.pid} is alive but Bolt does not answer (starting, or hung)")
    else:
        click.echo("running:   no")
    _echo_neo4j_login(server)
    sys.exit(0 if up else 3)


_nats_home = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server directory [default: $RESOLVER_NATS_HOME, .nats in a checkout, ~/.cache/resolver/nats]",
)


def _echo_nats_login(server: LocalNats) -> None:
    click.echo(f"URL:       {server.url}")
    click.echo(f"Monitor:   {server.monitor_url}")
    click.echo(f"User:      {server.user}")
    click.echo(f"Password:  {server.password}")


@cli.group("nats")
def nats() -> None:
    """Run a local NATS JetStream server (no Docker: the nats-server binary from the venv)."""


@nats.command("start")
@_nats_home
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Client port [default: 4222]")
@click.option(
    "--monitor-port", type=click.IntRange(1, 65535), default=None, help="HTTP monitoring port [default: 8222]"
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for readiness.")
def nats_start(home: Path | None, port: int | None, monitor_port: int | None, timeout: float) -> None:
    """Start the server unless it runs, print how to connect."""
    try:
        server = local_nats.start(home, port=port, monitor_port=monitor_port, timeout=timeout, echo=_progress)
    except LocalServerError as e:
        _fail(e)
    click.echo(f"nats-server {server.version} is running (pid {server.pid}) from {server.home}")
    _echo_nats_login(server)
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in server.env().items())
    click.echo(f"Connect the resolver with: export {exports}")


@nats.command("stop")
@_nats_home
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds before SIGKILL.")
def nats_stop(home: Path | None, timeout: float) -> None:
    """Stop the server if it runs."""
    try:
        stopped = local_nats.stop(home, timeout=timeout)
    except LocalServerError as e:
        _fail(e)
    click.echo("NATS stopped." if stopped else "NATS was not running.")


@nats.command("status")
@_nats_home
def nats_status(home: Path | None) -> None:
    """Show whether the server is set up and running, and its login. Exit 0 running, 3 not."""
    try:
        server = local_nats.status(home)
        up = local_nats.running(home) is not None
    except LocalServerError as e:
        _fail(e)
    if server is None:
        where = home if home is not None else local_nats.default_home()
        click.echo(f"set up:    no (home {where}); `resolver nats start` sets it up and starts it")
        sys.exit(3)
    click.echo(f"set up:    yes, nats-server {server.version} in {server.home}")
    if up:
        click.echo(f"running:   yes (pid {server.pid})")
    elif server.pid is not None:
        click.echo(f"running:   no; pid {server.pid} is alive but port {server.port} does not answer")
    else:
        click.echo("running:   no")
    _echo_nats_login(server)
    sys.exit(0 if up else 3)
