"""``serve``: the HTTP service (``resolver.service``) from the command line."""

from __future__ import annotations

import logging
import sys

import click

from ..adapters import make_adapter
from ..engine import RetryPolicy
from ..text import shown
from .app import cli, current_store
from .batches import dispatch_options, open_dispatch_log
from .signals import leave

__all__ = ["MAX_BODY_SHOWN", "serve_command"]

# The service (FastAPI, uvicorn) is imported by the command itself, not with the CLI: every other
# command starts without it (about 20 MiB and 0.2 s less). Hence its default body limit is shown
# here in words; a test holds them to the service's DEFAULT_MAX_BODY.
MAX_BODY_SHOWN = "256 MiB"


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one)."
)
@click.option(
    "--public-url",
    metavar="URL",
    help="Base URL services reach this one by, for the reply URLs in create messages "
    "[default: http://HOST:PORT as bound].",
)
@dispatch_options("adapter", "dispatch_log", "workers", "lease", "attempts", "backoff")
@click.option(
    "--max-body",
    type=click.IntRange(1),
    show_default=MAX_BODY_SHOWN,
    help="Largest request body, in bytes (a batch document can be big); larger ones get 413.",
)
@click.option(
    "--resume-prefix",
    "resume_prefixes",
    multiple=True,
    metavar="PREFIX",
    help="On start, resume only the stored batches whose id starts with PREFIX (repeatable; "
    "default: every one), for a store shared with other services.",
)
@click.option("--show-token", is_flag=True, help="Print the API token and exit.")
def serve_command(
    host: str,
    port: int,
    public_url: str | None,
    adapter_spec: str,
    dispatch_log: str | None,
    workers: int,
    lease_seconds: float,
    attempts: int,
    backoff: tuple[float, float],
    max_body: int | None,
    resume_prefixes: tuple[str, ...],
    show_token: bool,
) -> None:
    """Run the HTTP service: submit batches, report completions and failures, read status.

    Every request needs Authorization: Bearer <token> (RESOLVER_API_TOKEN, else a generated
    one, printed by --show-token), except GET /v1/health and the API's page at /docs. On start
    it resumes every unfinished batch; SIGTERM/SIGINT stop it gracefully (exit 143/130)."""
    from ..service import DEFAULT_MAX_BODY, RunOptions, load_token, serve

    token = load_token()
    if show_token:
        click.echo(token.value)
        return
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--public-url")
    adapter = make_adapter(adapter_spec)
    store = current_store()
    where = store.describe()  # the store answers, or one line and exit 3 before anything listens
    _log_to_stderr()
    options = RunOptions(workers=workers, lease_seconds=lease_seconds, retry=RetryPolicy(attempts, *backoff))

    def ready(base: str) -> None:
        kept = "from RESOLVER_API_TOKEN" if token.source == "RESOLVER_API_TOKEN" else f"in {token.source}"
        click.echo(f"resolver serve: listening on {base} (API page: {base}/docs)", err=True)
        click.echo(f"  store:   {where}", err=True)
        click.echo(
            f"  adapter: {shown(adapter_spec)}; create messages reply to {base}/v1/batches/...", err=True
        )
        click.echo(f"  token:   {kept} (resolver serve --show-token prints it)", err=True)

    with open_dispatch_log(dispatch_log) as log:
        stopped_by = serve(
            store,
            adapter,
            token.value,
            host=host,
            port=port,
            options=options,
            max_body=DEFAULT_MAX_BODY if max_body is None else max_body,
            public_url=public_url,
            on_message=log,
            on_ready=ready,
            resume_prefixes=resume_prefixes,
        )
    click.echo("resolver serve: stopped; claims in flight were given back", err=True)
    # threads of a dispatch pool may still wait on a slow service: their items were given back
    leave(128 + stopped_by if stopped_by else 0)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("resolver serve: %(message)s"))
    for name, level in (("resolver.service", logging.INFO), ("uvicorn.error", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
