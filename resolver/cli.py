"""The ``resolver`` command. Only ``ResolverError`` is caught: each prints one line on stderr and
exits with the code the contract gives it; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from . import __version__
from .adapters import make_adapter
from .config import open_store
from .engine import RetryPolicy, RunResult, resolve
from .errors import NotAwaitingError, ResolverError, UnknownItemError, UsageError
from .loader import open_plan
from .models import Batch, Identifiers, Message, Outcome
from .plan import LoadPlan
from .store.base import GraphStore, Progress

__all__ = ["cli", "main"]


class _Ctx:
    def __init__(
        self, store: str, uri: str | None, username: str | None, password: str | None, database: str | None
    ) -> None:
        self.kind = store
        self.args = (uri, username, password, database)
        self._store: GraphStore | None = None

    def store(self) -> GraphStore:
        if self._store is None:
            self._store = open_store(self.kind, *self.args)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="resolver")
@click.option(
    "--store",
    type=click.Choice(["neo4j", "memory"]),
    default="neo4j",
    envvar="RESOLVER_STORE",
    show_default=True,
    help="Neo4j, or the in-process networkx store for one-process runs.",
)
@click.option("--uri", envvar="NEO4J_URI", help="Bolt URI (default: the local server, if running).")
@click.option("--username", envvar="NEO4J_USERNAME", help="Neo4j user [neo4j].")
@click.option("--password", envvar="NEO4J_PASSWORD", help="Neo4j password.")
@click.option("--database", envvar="NEO4J_DATABASE", help="Neo4j database [neo4j].")
@click.pass_context
def cli(
    ctx: click.Context,
    store: str,
    uri: str | None,
    username: str | None,
    password: str | None,
    database: str | None,
) -> None:
    """Resolve the dependencies of batch imports on a Neo4j graph."""
    state = _Ctx(store, uri, username, password, database)
    ctx.obj = state
    ctx.call_on_close(state.close)


def _store() -> GraphStore:
    return click.get_current_context().find_object(_Ctx).store()  # type: ignore[union-attr]


def _load(path: str, batch_id: str | None, replace: bool) -> tuple[LoadPlan, list[Any]]:
    plan = open_plan(path, batch_id)  # the whole file checked before anything is stored
    store = _store()
    store.load(plan, replace=replace)
    return plan, store.validate(plan.batch_id)


def _print_id(batch_id: str) -> None:
    """Verbatim, for scripts: click.echo would strip escape sequences that are part of the id."""
    sys.stdout.write(batch_id + "\n")
    sys.stdout.flush()


def _report_errors(batch_id: str, errors: list[Any]) -> None:
    click.echo(f"batch {batch_id}: {len(errors)} validation error(s); nothing will be dispatched", err=True)
    for e in errors:
        click.echo(f"  {e['code']}: {e['message']}", err=True)


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--batch-id", help="Use this id instead of the file's (or a generated one).")
@click.option("--replace", is_flag=True, help="Overwrite a stored batch with the same id.")
def load(file: str, batch_id: str | None, replace: bool) -> None:
    """Parse, store and validate a batch; prints its id. Exit 1 on validation errors."""
    plan, errors = _load(file, batch_id, replace)
    _print_id(plan.batch_id)
    if errors:
        _report_errors(plan.batch_id, errors)
        sys.exit(1)
    click.echo(
        f"loaded {plan.object_count} objects, {plan.link_count} links into {_store().name}: valid",
        err=True,
    )


_DISPATCH_OPTIONS = [
    click.option(
        "--adapter",
        "adapter_spec",
        default="simulate",
        show_default=True,
        help="simulate[:latency=S,failure_rate=P,seed=N], manual, python:MOD:FUNC, "
        "command:PROGRAM, http:URL.",
    ),
    click.option(
        "--dispatch-log", type=click.Path(dir_okay=False), help="Append every message as a JSON line."
    ),
    click.option("--once", is_flag=True, help="Dispatch what is ready now and return; do not wait."),
    click.option(
        "--workers",
        type=click.IntRange(1, 1000),
        default=10,
        show_default=True,
        help="Concurrent dispatches.",
    ),
    click.option(
        "--lease",
        "lease_seconds",
        type=click.FloatRange(1),
        default=60.0,
        show_default=True,
        help="Seconds a claim lives without renewal before another worker may retake it.",
    ),
    click.option(
        "--attempts",
        type=click.IntRange(1),
        default=5,
        show_default=True,
        help="Tries per item for transient failures.",
    ),
    click.option(
        "--backoff",
        type=(float, float),
        default=(1.0, 60.0),
        show_default=True,
        help="First and largest retry delay, seconds (doubling, with jitter).",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print the final status as JSON."),
]


def _dispatch_options(fn: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_DISPATCH_OPTIONS):
        fn = option(fn)
    return fn


@cli.command()
@click.argument("target")
@click.option("--batch-id", help="With a FILE: the id to load it under.")
@click.option("--replace", is_flag=True, help="With a FILE: overwrite a stored batch with the same id.")
@_dispatch_options
def run(target: str, batch_id: str | None, replace: bool, adapter_spec: str, **options: Any) -> None:
    """Load FILE (or take a stored BATCH_ID) and dispatch until the batch is finished.

    Exit 0 complete, 1 error/failed, 2 unusable input or unknown batch, 4 stopped while items
    await an external completion."""
    adapter = make_adapter(adapter_spec)  # a bad spec must fail before anything is stored
    store = _store()
    if Path(target).exists():
        plan, errors = _load(target, batch_id, replace)
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
    with _dispatch_log(dispatch_log) as log, _progress_display(store, batch_id) as on_progress:
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
            )
        finally:
            adapter.close()
    _finish_run(store, result, as_json)


def _finish_run(store: GraphStore, result: RunResult, as_json: bool) -> None:
    status = store.status(result.batch_id)
    if as_json:
        click.echo(json.dumps(status.to_json()))
    else:
        rate = (result.dispatched / result.seconds) if result.seconds else 0.0
        click.echo(
            f"batch {result.batch_id}: {status.status} - {result.dispatched} dispatched, "
            f"{result.completed} completed, {result.failed} failed in {result.seconds:.1f}s "
            f"({rate:,.0f}/s)",
            err=True,
        )
        for f in status.failures:
            ident = f.get("objectId") or f.get("linkId")
            click.echo(f"  failed {f['kind']} {ident}: {f.get('reason')}", err=True)
    if status.status == "complete":
        sys.exit(0)
    if status.status in ("failed", "error"):
        sys.exit(1)
    sys.exit(4)


@contextmanager
def _dispatch_log(path: str | None) -> Iterator[Callable[[Message], None] | None]:
    if path is None:
        yield None
        return
    try:
        fh: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot open dispatch log {path}: {exc.strerror or exc}") from None

    def write(message: Message) -> None:
        fh.write(json.dumps(message, ensure_ascii=False) + "\n")
        fh.flush()  # a crash must not lose a line that was dispatched

    try:
        yield write
    finally:
        fh.close()


@contextmanager
def _progress_display(
    store: GraphStore, batch_id: str
) -> Iterator[Callable[[Progress, RunResult], None] | None]:
    """A rich bar on a terminal; nothing on a pipe (the summary line says it all)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        transient=False,
    )
    counts = store.status(batch_id)
    total = sum(counts.objects.values()) + sum(counts.links.values())
    done0 = counts.objects.get("complete", 0) + counts.links.get("complete", 0)
    task = bar.add_task(batch_id, total=total, completed=done0, detail="")

    def update(p: Progress, r: RunResult) -> None:
        finished = total - p.unfinished
        bar.update(
            task, completed=finished, detail=f"ready {p.ready} in flight {p.creating} waiting {p.waiting}"
        )

    with bar:
        yield update


@cli.command()
@click.argument("batch_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (CONTRACT section 5).")
@click.option("--detail", is_flag=True, help="List every object and link.")
def status(batch_id: str, as_json: bool, detail: bool) -> None:
    """Batch status, counts by status, errors."""
    st = _store().status(batch_id, detail=detail)
    if as_json:
        click.echo(json.dumps(st.to_json(), ensure_ascii=False))
        return
    from .report import print_status

    print_status(st)


def _parse_ids(pairs: tuple[str, ...]) -> Identifiers:
    ids: Identifiers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--id expects KEY=VALUE, got {pair!r}")
        ids[key] = value
    return ids


def _one_item(object_id: str | None, link_id: str | None) -> tuple[str, str]:
    if (object_id is None) == (link_id is None):
        raise UsageError("give either OBJECT_ID or --link LINK_ID")
    return ("object", object_id) if object_id is not None else ("link", link_id)  # type: ignore[return-value]


def _settle(batch_id: str, outcome: Outcome, repeat: str) -> None:
    """``repeat`` is the status a second identical report finds: harmless, exit 0. Any other
    unchanged status means the item was not awaiting this report: refused, exit 1."""
    if outcome.status is None:
        raise UnknownItemError(batch_id, outcome.kind, outcome.item_id)
    if outcome.changed:
        click.echo(f"{outcome.kind} {outcome.item_id}: {outcome.status}")
    elif outcome.status == repeat:
        click.echo(f"{outcome.kind} {outcome.item_id}: already {repeat}; nothing changed")
    else:
        raise NotAwaitingError(outcome.kind, outcome.item_id, outcome.status)


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--link", "link_id", help="Report a link created instead of an object.")
@click.option("--id", "ids", multiple=True, metavar="KEY=VALUE", help="An identifier of the created object.")
def complete(batch_id: str, object_id: str | None, link_id: str | None, ids: tuple[str, ...]) -> None:
    """An external service reports an object (with its identifierIds) or a link created."""
    kind, item = _one_item(object_id, link_id)
    store = _store()
    store.batch_status(batch_id)
    if kind == "object":
        if not ids:
            raise UsageError("an object completion needs its identifiers: --id KEY=VALUE")
        outcome = store.complete_objects(batch_id, [(item, _parse_ids(ids))])[0]
    else:
        outcome = store.complete_links(batch_id, [item])[0]
    _settle(batch_id, outcome, repeat="complete")
    _finish_if_done(store, batch_id)


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--link", "link_id", help="Report a link failed instead of an object.")
@click.option("--reason", required=True, help="Why the service failed it.")
def fail(batch_id: str, object_id: str | None, link_id: str | None, reason: str) -> None:
    """An external service reports that creating an object or link failed."""
    kind, item = _one_item(object_id, link_id)
    store = _store()
    store.batch_status(batch_id)
    _settle(batch_id, store.fail(batch_id, kind, item, reason), repeat="failed")  # type: ignore[arg-type]
    _finish_if_done(store, batch_id)


def _finish_if_done(store: GraphStore, batch_id: str) -> None:
    """The last completion may come from here rather than a running worker."""
    if store.progress(batch_id).unfinished == 0:
        fin = store.finish(batch_id)
        if fin is not None:
            click.echo(json.dumps({"kind": "batch-complete", "batchId": batch_id, "status": fin.status}))


@cli.command()
@click.argument("batch_id")
@click.argument("object_id", required=False)
@click.option("--no-run", is_flag=True, help="Only put the items back; do not resume.")
@_dispatch_options
def retry(batch_id: str, object_id: str | None, no_run: bool, adapter_spec: str, **options: Any) -> None:
    """Put failed and blocked items (all, or OBJECT_ID and what it blocked) back, and resume
    with the same options as run."""
    adapter = make_adapter(adapter_spec)
    store = _store()
    n = store.retry(batch_id, object_id)
    click.echo(f"batch {batch_id}: {n} item(s) put back", err=True)
    if no_run:
        adapter.close()
        return
    _dispatch(store, batch_id, adapter, **options)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the batch file."""
    click.echo(json.dumps(Batch.model_json_schema(), indent=2))


def _register_commands() -> None:
    from .cli_generate import generate
    from .cli_neo4j import neo4j
    from .cli_views import browse, explain, graph

    for command in (neo4j, generate, explain, graph, browse):
        cli.add_command(command)


_register_commands()


def _check_arguments(argv: list[str]) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates; no store can keep them."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"argument '{shown}' is not valid UTF-8") from None


_GLOBAL_OPTIONS = ("--store", "--uri", "--username", "--password", "--database")


def _hoist_global_options(argv: list[str]) -> list[str]:
    """``resolver run FILE --store memory`` reads as naturally as ``resolver --store memory run
    FILE``; click only takes group options before the command, so move them there."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        name = arg.split("=", 1)[0]
        if name in _GLOBAL_OPTIONS:
            takes_next = "=" not in arg and i + 1 < len(argv)
            front += argv[i : i + 1 + takes_next]
            i += 1 + takes_next
            continue
        rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    try:
        args = sys.argv[1:] if argv is None else argv
        _check_arguments(args)
        cli.main(args=_hoist_global_options(args), prog_name="resolver", standalone_mode=False)
    except ResolverError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
