"""``load``, ``run``, ``retry``, ``status`` and ``schema``: a batch from its file to its end."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from ..adapters import make_adapter
from ..batchfile.loader import open_plan
from ..batchfile.plan import LoadPlan
from ..engine import RetryPolicy, RunResult, resolve
from ..errors import BatchLoadingError, UnknownBatchError, UsageError
from ..models import Batch, Message
from ..store.base import GraphStore
from ..text import shown
from .app import cli, current_store
from .output import print_status, progress_display
from .signals import leave, stop_signals

__all__ = [
    "DISPATCH_OPTIONS",
    "dispatch_options",
    "load",
    "open_dispatch_log",
    "retry",
    "run",
    "schema",
    "status",
]


def _load(path: str, batch_id: str | None, replace: bool, force: bool) -> tuple[LoadPlan, list[Any]]:
    plan = open_plan(path, batch_id)  # the whole file checked before anything is stored
    store = current_store()
    store.load(plan, replace=replace, force=force)
    return plan, store.validate(plan.batch_id)


def _print_id(batch_id: str) -> None:
    """The id alone on stdout, for scripts; quoted with escapes when it holds a control or
    invisible character, so it can never forge a line or reach the terminal as a command."""
    sys.stdout.write(shown(batch_id) + "\n")
    sys.stdout.flush()


def _report_errors(batch_id: str, errors: list[Any]) -> None:
    click.echo(
        f"batch {shown(batch_id)}: {len(errors)} validation error(s); nothing will be dispatched", err=True
    )
    for e in errors:
        click.echo(f"  {e['code']}: {e['message']}", err=True)


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--batch-id", help="Use this id instead of the file's (or a generated one).")
@click.option("--replace", is_flag=True, help="Overwrite a stored batch with the same id.")
@click.option("--force", is_flag=True, help="With --replace: even while items of it are in flight.")
def load(file: str, batch_id: str | None, replace: bool, force: bool) -> None:
    """Parse, store and validate a batch; prints its id. Exit 1 on validation errors."""
    plan, errors = _load(file, batch_id, replace, force)
    _print_id(plan.batch_id)
    if errors:
        _report_errors(plan.batch_id, errors)
        sys.exit(1)
    click.echo(
        f"loaded {plan.object_count} objects, {plan.link_count} links into {current_store().name}: valid",
        err=True,
    )


#: run's options by name, defined once: ``run`` and ``retry`` take them all, ``serve`` most of them
DISPATCH_OPTIONS: dict[str, Callable[[Callable[..., None]], Callable[..., None]]] = {
    "adapter": click.option(
        "--adapter",
        "adapter_spec",
        default="simulate",
        show_default=True,
        help="simulate[:latency=S,failure_rate=P,seed=N], manual, python:MOD:FUNC, "
        "command:PROGRAM, http:URL.",
    ),
    "dispatch_log": click.option(
        "--dispatch-log", type=click.Path(dir_okay=False), help="Append every message as a JSON line."
    ),
    "once": click.option("--once", is_flag=True, help="Dispatch what is ready now and return; do not wait."),
    "workers": click.option(
        "--workers",
        type=click.IntRange(1, 1000),
        default=10,
        show_default=True,
        help="Concurrent dispatches.",
    ),
    "lease": click.option(
        "--lease",
        "lease_seconds",
        type=click.FloatRange(1),
        default=60.0,
        show_default=True,
        help="Seconds a claim lives without renewal before another worker may retake it.",
    ),
    "attempts": click.option(
        "--attempts",
        type=click.IntRange(1),
        default=5,
        show_default=True,
        help="Tries per item for transient failures.",
    ),
    "backoff": click.option(
        "--backoff",
        type=(float, float),
        default=(1.0, 60.0),
        show_default=True,
        help="First and largest retry delay, seconds (doubling, with jitter).",
    ),
    "json": click.option("--json", "as_json", is_flag=True, help="Print the final status as JSON."),
}


def dispatch_options(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a command with the named options of DISPATCH_OPTIONS (all when none are named),
    in that order in its help."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        for name in reversed(names or tuple(DISPATCH_OPTIONS)):
            fn = DISPATCH_OPTIONS[name](fn)
        return fn

    return decorate


@cli.command()
@click.argument("target")
@click.option("--file", "as_file", is_flag=True, help="TARGET is a file, whatever is stored.")
@click.option("--batch-id", help="With a FILE: the id to load it under.")
@click.option("--replace", is_flag=True, help="With a FILE: overwrite a stored batch with the same id.")
@click.option("--force", is_flag=True, help="With --replace: even while items of it are in flight.")
@dispatch_options()
def run(
    target: str,
    as_file: bool,
    batch_id: str | None,
    replace: bool,
    force: bool,
    adapter_spec: str,
    **options: Any,
) -> None:
    """Load FILE (or take a stored BATCH_ID) and dispatch until the batch is finished.

    A stored batch id wins over a file of that name, unless TARGET looks like a path (holds a
    '/', ends in .json or .zip) or --file is given. Exit 0 complete, 1 error/failed, 2 unusable
    input or unknown batch, 4 stopped while items await an external completion, 130/143 stopped
    by SIGINT/SIGTERM."""
    adapter = make_adapter(adapter_spec)  # a bad spec must fail before anything is stored
    store = current_store()
    if _is_file(store, target, as_file):
        plan, errors = _load(target, batch_id, replace, force)
        target = plan.batch_id
        del plan  # what the load kept goes before the run
        _print_id(target)
        if errors:
            adapter.close()
            _report_errors(target, errors)
            sys.exit(1)
    else:
        store.batch_status(target)  # UnknownBatchError (exit 2) before anything else
    _dispatch(store, target, adapter, **options)


def _is_file(store: GraphStore, target: str, as_file: bool) -> bool:
    if as_file or "/" in target or target.endswith((".json", ".zip")):
        return True
    try:
        store.batch_status(target)
    except BatchLoadingError:
        raise
    except UnknownBatchError:
        return Path(target).exists()  # no such batch: a file (a CSV folder) of that name, if any
    return False


def _dispatch(
    store: GraphStore,
    batch_id: str,
    adapter: Any,
    *,
    dispatch_log: str | None,
    once: bool,
    workers: int,
    lease_seconds: float,
    attempts: int,
    backoff: tuple[float, float],
    as_json: bool,
) -> None:
    """The driver loop with the run options, then the summary and the contract's exit code."""
    with (
        open_dispatch_log(dispatch_log) as log,
        progress_display(store, batch_id) as on_progress,
        stop_signals() as stopping,
    ):
        try:
            result = resolve(
                store,
                batch_id,
                adapter,
                workers=workers,
                once=once,
                lease_seconds=lease_seconds,
                retry=RetryPolicy(attempts, *backoff),
                on_message=log,
                on_progress=on_progress,
                stop=stopping.event,
            )
        finally:
            adapter.close()
    _finish_run(store, result, as_json, stopping.signal)


def _finish_run(
    store: GraphStore, result: RunResult, as_json: bool, signal_number: int | None = None
) -> None:
    status = store.status(result.batch_id)
    if as_json:
        click.echo(json.dumps(status.to_json(), ensure_ascii=False))
    else:
        rate = (result.dispatched / result.seconds) if result.seconds else 0.0
        click.echo(
            f"batch {shown(result.batch_id)}: {status.status} - {result.dispatched} dispatched, "
            f"{result.completed} completed, {result.failed} failed in {result.seconds:.1f}s "
            f"({rate:,.0f}/s)",
            err=True,
        )
        for f in status.failures:
            ident = f.get("objectId") or f.get("linkId")
            click.echo(f"  failed {f['kind']} {shown(ident)}: {f.get('reason')}", err=True)
    if result.undelivered is not None:
        click.echo(
            f"warning: batch-complete not delivered ({result.undelivered}); it stays owed and "
            f"'resolver run {shown(result.batch_id)}' delivers it",
            err=True,
        )
    if result.stopped:
        click.echo("stopped: claims in flight were given back; 'resolver run' resumes", err=True)
        leave(128 + (signal_number or 2))
    if status.status == "complete":
        sys.exit(0)
    if status.status in ("failed", "error"):
        sys.exit(1)
    sys.exit(4)


@contextmanager
def open_dispatch_log(path: str | None) -> Iterator[Callable[[Message], None] | None]:
    if path is None:
        yield None
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fh: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot open dispatch log {path}: {exc.strerror or exc}") from None

    lock = threading.Lock()  # sends log from the dispatch pool's threads

    def write(message: Message) -> None:
        line = json.dumps(message, ensure_ascii=False) + "\n"
        with lock:
            fh.write(line)
            fh.flush()  # a crash must not lose a line that was dispatched

    try:
        yield write
    finally:
        fh.close()


@cli.command()
@click.argument("batch_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (docs/interface.md, status --json).")
@click.option("--detail", is_flag=True, help="List every object and link.")
def status(batch_id: str, as_json: bool, detail: bool) -> None:
    """Batch status, counts by status, errors."""
    st = current_store().status(batch_id, detail=detail)
    if as_json:
        click.echo(json.dumps(st.to_json(), ensure_ascii=False))
        return
    print_status(st)


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--no-run", is_flag=True, help="Only put the items back; do not resume.")
@dispatch_options()
def retry(batch_id: str, object_id: str | None, no_run: bool, adapter_spec: str, **options: Any) -> None:
    """Put failed and blocked items (all, or OBJECT_ID and what it blocked) back, and resume
    with the same options as run."""
    adapter = make_adapter(adapter_spec)
    store = current_store()
    n = store.retry(batch_id, object_id)
    click.echo(f"batch {shown(batch_id)}: {n} item(s) put back", err=True)
    if no_run:
        adapter.close()
        return
    _dispatch(store, batch_id, adapter, **options)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the batch file."""
    click.echo(json.dumps(Batch.model_json_schema(), indent=2))
