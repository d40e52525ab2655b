"""``resolver nats start|stop|status``: a local NATS JetStream server for development and tests."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import NoReturn

import click

from resolver.local import nats as local_nats
from resolver.local.nats import LocalNats, LocalNatsError

__all__ = ["nats"]

_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server directory [default: $RESOLVER_NATS_HOME, .nats in a checkout, ~/.cache/resolver/nats]",
)


def _progress(message: str) -> None:
    # Progress goes to stderr so that stdout carries only the connection details.
    click.echo(message, err=True)


def _fail(e: LocalNatsError) -> NoReturn:
    click.echo(f"error: {e}", err=True)
    sys.exit(e.exit_code)


def _echo_login(server: LocalNats) -> None:
    click.echo(f"URL:       {server.url}")
    click.echo(f"Monitor:   {server.monitor_url}")
    click.echo(f"User:      {server.user}")
    click.echo(f"Password:  {server.password}")


@click.group("nats")
def nats() -> None:
    """Run a local NATS JetStream server (no Docker: the nats-server binary from the venv)."""


@nats.command("start")
@_home_option
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Client port [default: 4222]")
@click.option(
    "--monitor-port", type=click.IntRange(1, 65535), default=None, help="HTTP monitoring port [default: 8222]"
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for readiness.")
def start(home: Path | None, port: int | None, monitor_port: int | None, timeout: float) -> None:
    """Start the server unless it runs, print how to connect."""
    try:
        server = local_nats.start(home, port=port, monitor_port=monitor_port, timeout=timeout, echo=_progress)
    except LocalNatsError as e:
        _fail(e)
    click.echo(f"nats-server {server.version} is running (pid {server.pid}) from {server.home}")
    _echo_login(server)
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in server.env().items())
    click.echo(f"Connect the resolver with: export {exports}")


@nats.command("stop")
@_home_option
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds before SIGKILL.")
def stop(home: Path | None, timeout: float) -> None:
    """Stop the server if it runs."""
    try:
        stopped = local_nats.stop(home, timeout=timeout)
    except LocalNatsError as e:
        _fail(e)
    click.echo("NATS stopped." if stopped else "NATS was not running.")


@nats.command("status")
@_home_option
def status(home: Path | None) -> None:
    """Show whether the server is set up and running, and its login. Exit 0 running, 3 not."""
    try:
        server = local_nats.status(home)
        up = local_nats.running(home) is not None
    except LocalNatsError as e:
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
    _echo_login(server)
    sys.exit(0 if up else 3)
