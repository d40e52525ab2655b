"""``explain``, ``graph`` and ``browse``: read-only views of a batch."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from ..errors import UsageError
from ..export import FORMATS
from ..views import MAX_GRAPH_NODES
from .app import CliContext, cli, current_store

__all__ = ["browse", "cypher_string", "explain", "graph"]


@cli.command()
@click.argument("batch_id")
@click.argument("object_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of sentences.")
@click.option(
    "--max-depth",
    type=click.IntRange(1, 100_000),
    default=100,
    show_default=True,
    help="How many dependency levels to follow upward.",
)
def explain(batch_id: str, object_id: str, as_json: bool, max_depth: int) -> None:
    """Why OBJECT_ID is where it is: its status, what it waits on (up to the items in flight,
    ready, failed or blocked), the failure behind a block, its links. Exit 2 unknown batch or
    object."""
    from ..views import ExplainLimits, explain_text
    from ..views import explain as explain_view

    info = explain_view(current_store(), batch_id, object_id, limits=ExplainLimits(max_depth=max_depth))
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, default=str))
    else:
        click.echo(explain_text(info))


_SUFFIXES = {
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".graphml": "graphml",
    ".json": "json",
    ".png": "png",
    ".svg": "svg",
}


@cli.command()
@click.argument("batch_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format [default: from -o's suffix, else dot].",
)
@click.option("--around", metavar="OBJECT_ID", help="Only the objects within --depth links of this one.")
@click.option(
    "--depth",
    type=click.IntRange(0, 1000),
    default=2,
    show_default=True,
    help="With --around: how many links away to go (either direction).",
)
@click.option(
    "--max-nodes",
    type=click.IntRange(1, 100_000),
    default=MAX_GRAPH_NODES,
    show_default=True,
    help="Cap on objects drawn; a note says when it cut the graph.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (its folder is made if missing) instead of stdout.",
)
def graph(
    batch_id: str, fmt: str | None, around: str | None, depth: int, max_nodes: int, output: Path | None
) -> None:
    """Export the batch's graph (or the part --around one object) as DOT, Mermaid, GraphML,
    JSON, PNG or SVG. Objects are coloured by status; dependent links solid, independent
    dashed; arrows go from child to parent."""
    from ..export import IMAGE_FORMATS, export
    from ..views import subgraph

    if fmt is None:
        fmt = _SUFFIXES.get(output.suffix.lower(), "dot") if output is not None else "dot"
    if fmt in IMAGE_FORMATS and output is None and sys.stdout.isatty():
        # as dot -Tpng does: a picture goes to a pipe or a file, never onto a terminal
        raise UsageError(f"--format {fmt} is binary: redirect it (> graph.{fmt}) or give -o FILE")
    if around is None and depth != 2:
        click.echo("note: --depth applies only with --around", err=True)
    sg = subgraph(current_store(), batch_id, around, depth, max_nodes=max_nodes)
    data = export(sg, fmt)
    if sg.note:
        click.echo(f"note: {sg.note}", err=True)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output} ({fmt}, {len(sg.nodes)} objects, {len(sg.edges)} links)", err=True)


def cypher_string(value: str) -> str:
    """A Cypher string literal: the value can never end the string early."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _browser_url_for(uri: str) -> str:
    explicit = os.environ.get("NEO4J_BROWSER_URL")
    if explicit:
        return explicit
    parts = urlsplit(uri)
    host = parts.hostname or "127.0.0.1"
    if parts.scheme.endswith(("+s", "+ssc")):
        return f"https://browser.neo4j.io/?connectURL={uri}"  # a TLS-only server, e.g. Aura
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:7474/browser/"


@cli.command()
@click.argument("batch_id")
@click.option(
    "--show-password", is_flag=True, help="Print the password even when it comes from NEO4J_PASSWORD."
)
def browse(batch_id: str, show_password: bool) -> None:
    """How to look at BATCH_ID in Neo4j Browser: the URL, the login, the query to paste."""
    from ..config import resolve_connection
    from ..local import browser as browser_assets
    from ..local import neo4j as neo4j_local

    ctx = CliContext.current()
    if ctx.kind == "memory":
        raise UsageError("the memory store lives inside one process; Neo4j Browser needs --store neo4j")
    conn = resolve_connection(*ctx.args)
    status = current_store().batch_status(batch_id)
    local = neo4j_local.running()
    if local is not None and (conn.source == "local server" or conn.uri == local.uri):
        url, user, password = local.browser_url, local.username, local.password
        where = f"the local server ({local.home})"
    else:
        url, user = _browser_url_for(conn.uri), conn.username
        password = (
            conn.password if show_password else "(the one in NEO4J_PASSWORD; --show-password prints it)"
        )
        where = f"{conn.uri} ({conn.source})"
    click.echo(f"Batch:     {batch_id} ({status}) on {where}")
    click.echo(f"Browser:   {url}")
    click.echo(f"Connect:   {conn.uri}  database {conn.database}")
    click.echo(f"Username:  {user}")
    click.echo(f"Password:  {password}")
    click.echo("")
    click.echo("Paste into the Browser's editor, one line at a time:")
    click.echo(f"  :param batchId => {cypher_string(batch_id)}")
    click.echo(
        "  MATCH (n:PendingObject {batchId: $batchId}) "
        "OPTIONAL MATCH (n)-[r:DEPENDS_ON|LINKED_TO]->(m) RETURN n, r, m LIMIT 1000"
    )
    port = browser_assets.assets_port()
    base = browser_assets.base_url(port)
    if browser_assets.is_serving(port, timeout=0.5):
        click.echo(f"  :style {base}/resolver.grass      (colours by status, if not applied on connect)")
        click.echo(f"  :play {base}/guide.html          (a guide: ready, waiting, failed, cycles)")
    else:
        click.echo("")
        click.echo(
            "For colours by status and a guide, serve them and reconnect: "
            f"python -m resolver.local.browser &   (then :style {base}/resolver.grass)"
        )
