"""The ``resolver`` click group: its connection options, the context that opens the store once
per command, and ``main``, which turns every ``ResolverError`` into one line on stderr and the
exit code the error carries; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..config import open_store
from ..errors import ResolverError, UsageError
from ..store.base import GraphStore

__all__ = ["CliContext", "cli", "current_store", "main"]


class CliContext:
    """What the group's options chose; the store opens on first use and closes with the command."""

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

    @classmethod
    def current(cls) -> CliContext:
        found = click.get_current_context().find_object(cls)
        if found is None:
            raise RuntimeError("resolver's commands run inside the resolver group")
        return found


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
    state = CliContext(store, uri, username, password, database)
    ctx.obj = state
    ctx.call_on_close(state.close)


def current_store() -> GraphStore:
    """The store of the command being run."""
    return CliContext.current().store()


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
