"""Read-side views: explain, subgraph, the graph exports, the Browser assets and the CLI commands.

Most tests run on the memory store; ``test_neo4j_matches_memory`` runs the same scenarios on
Neo4j (through the ``neo4j_store`` fixture of tests/conftest.py) and compares the answers.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from click.testing import CliRunner

from resolver import export as graph_export
from resolver import views
from resolver.adapters import ManualAdapter
from resolver.batchfile.loader import batch_from_dict
from resolver.engine import resolve
from resolver.errors import UnknownBatchError, UnknownItemError, UsageError
from resolver.local.browser import ALLOWLIST, browser_conf, read_asset
from resolver.models import Batch
from resolver.store.memory import MemoryStore

WEIRD_IDS = [
    'say "hi"',
    "x'}) DETACH DELETE n //",
    "ünï cødé 製品",
    "back\\slash\\",
    "new\nline",
    "a#b<c>&[d]{e}|f;g%%h`i",
    "end",
    "-->",
]


def chain_batch(batch_id: str, n: int = 4, *, extra: bool = True) -> Batch:
    """o0 <- o1 <- ... <- o(n-1) by dependent links (a for n=4: a <- b <- c <- d), plus an
    independent link from the last to the first."""
    names = list("abcd") if n == 4 else [f"o{i}" for i in range(n)]
    objects = [{"objectId": x, "objectType": "t"} for x in names]
    links = [
        {"linkId": f"l-{c}", "objectId": c, "referenceId": p, "linkTag": "dep", "linkType": "dependent"}
        for p, c in itertools.pairwise(names)
    ]
    if extra:
        links.append(
            {
                "linkId": "i-1",
                "objectId": names[-1],
                "referenceId": names[0],
                "linkTag": "dep",
                "linkType": "independent",
            }
        )
    return batch_from_dict(
        {
            "batchId": batch_id,
            "linkTags": {"dep": {"childType": "t", "parentType": "t"}},
            "objects": objects,
            "links": links,
        }
    )


def weird_batch(batch_id: str) -> Batch:
    objects = [
        {"objectId": "acme", "objectType": "brand", "identifierIds": {"brandId": "42"}},
        {"objectId": "summer", "objectType": "category"},
        {"objectId": "shirt", "objectType": "product"},
    ] + [{"objectId": w, "objectType": "variant"} for w in WEIRD_IDS]
    links = [
        {
            "linkId": "l-brand",
            "objectId": "shirt",
            "referenceId": "acme",
            "linkTag": "byBrand",
            "linkType": "dependent",
        },
        {
            "linkId": "l-cat",
            "objectId": "shirt",
            "referenceId": "summer",
            "linkTag": "inCategory",
            "linkType": "independent",
        },
    ] + [
        {
            "linkId": f"v-{i}\"'",
            "objectId": w,
            "referenceId": "shirt",
            "linkTag": "variantOf",
            "linkType": "dependent",
        }
        for i, w in enumerate(WEIRD_IDS)
    ]
    return batch_from_dict(
        {
            "batchId": batch_id,
            "linkTags": {
                "byBrand": {"childType": "product", "parentType": "brand"},
                "inCategory": {"childType": "product", "parentType": "category"},
                "variantOf": {"childType": "variant", "parentType": "product"},
            },
            "objects": objects,
            "links": links,
        }
    )


def started(store: Any, batch: Batch) -> str:
    """Load and validate, then one manual pass: ready objects are now 'creating'."""
    store.load(batch, replace=True)
    assert batch.batchId is not None
    assert store.validate(batch.batchId) == []
    resolve(store, batch.batchId, ManualAdapter(), once=True)
    return batch.batchId


@pytest.fixture
def chain() -> tuple[MemoryStore, str]:
    store = MemoryStore()
    return store, started(store, chain_batch("viz-chain"))


# -- explain ----------------------------------------------------------------------------------


def test_explain_names_the_single_in_flight_ancestor_with_its_path(chain: tuple[MemoryStore, str]) -> None:
    store, bid = chain
    info = views.explain(store, bid, "d")
    assert info["status"] == "waiting"
    assert info["unmet"] == 1
    assert [(w["objectId"], w["status"], w["path"]) for w in info["waitingOn"]] == [
        ("a", "creating", ["d", "c", "b", "a"])
    ]
    assert info["waitingOn"][0]["attempt"] == 1
    assert info["waitingOnTruncated"] is False
    assert info["rootCause"] is None
    text = views.explain_text(info)
    assert "d (t) is waiting" in text
    assert "a (creating, dispatched attempt 1" in text
    assert "d -> c -> b -> a" in text


def test_explain_direct_parent_reads_like_a_sentence() -> None:
    store = MemoryStore()
    bid = started(store, chain_batch("viz-two", 2, extra=False))
    text = views.explain_text(views.explain(store, bid, "o1"))
    assert text.startswith("o1 (t) is waiting: it depends on o0 (creating, dispatched attempt 1")


def test_explain_links_say_what_they_wait_on(chain: tuple[MemoryStore, str]) -> None:
    store, bid = chain
    links = {link["linkId"]: link for link in views.explain(store, bid, "d")["links"]}
    assert set(links) == {"l-d", "i-1"}
    assert links["l-d"]["linkType"] == "dependent"
    assert links["l-d"]["waitingOn"] == [{"objectId": "d", "status": "waiting"}]
    assert links["i-1"]["linkType"] == "independent"
    assert links["i-1"]["waitingOn"] == [
        {"objectId": "d", "status": "waiting"},
        {"objectId": "a", "status": "creating"},
    ]
    parent_side = views.explain(store, bid, "a")["links"]
    assert [(link["linkId"], link["role"]) for link in parent_side] == [("i-1", "parent"), ("l-b", "parent")]


def test_explain_blocked_object_names_the_failure_behind_it(chain: tuple[MemoryStore, str]) -> None:
    store, bid = chain
    store.fail(bid, "object", "a", "HTTP 500 from the catalog")
    info = views.explain(store, bid, "d")
    assert info["status"] == "blocked"
    assert info["blockedBy"] == "a"
    assert info["rootCause"] == {
        "objectId": "a",
        "status": "failed",
        "reason": "HTTP 500 from the catalog",
        "path": ["d", "c", "b", "a"],
    }
    assert "a failed via d -> c -> b -> a: HTTP 500 from the catalog" in views.explain_text(info)
    failed = views.explain(store, bid, "a")
    assert failed["rootCause"]["objectId"] == "a"
    assert "a (t) failed: HTTP 500 from the catalog" in views.explain_text(failed)


def test_explain_other_states(chain: tuple[MemoryStore, str]) -> None:
    store, bid = chain
    assert views.explain(store, bid, "a")["waitingOn"] == []
    assert "is creating" in views.explain_text(views.explain(store, bid, "a"))
    store.complete_objects(bid, [("a", {"id": "A"})])
    assert views.explain(store, bid, "b")["status"] == "ready"
    assert "is ready" in views.explain_text(views.explain(store, bid, "b"))
    done = views.explain(store, bid, "a")
    assert done["status"] == "complete" and done["identifierIds"] == {"id": "A"}


def test_explain_unknown_ids(chain: tuple[MemoryStore, str]) -> None:
    store, bid = chain
    with pytest.raises(UnknownBatchError):
        views.explain(store, "viz-no-such-batch", "a")
    with pytest.raises(UnknownItemError):
        views.explain(store, bid, "zz")


def test_explain_search_is_bounded_on_a_long_chain() -> None:
    store = MemoryStore()
    bid = started(store, chain_batch("viz-long", 3000, extra=False))
    info = views.explain(store, bid, "o2999", limits=views.ExplainLimits(max_depth=50))
    assert info["waitingOnTruncated"] is True
    [stop] = info["waitingOn"]
    assert stop["searchStopped"] and stop["objectId"] == "o2949" and len(stop["path"]) == 51
    full = views.explain(store, bid, "o2999", limits=views.ExplainLimits(max_depth=5000, max_nodes=5000))
    assert [w["objectId"] for w in full["waitingOn"]] == ["o0"] and len(full["waitingOn"][0]["path"]) == 3000


def test_explain_reports_validation_errors_of_the_object() -> None:
    store = MemoryStore()
    batch = batch_from_dict(
        {
            "batchId": "viz-cycle",
            "linkTags": {"dep": {"childType": "t", "parentType": "t"}},
            "objects": [{"objectId": x, "objectType": "t"} for x in "xyz"],
            "links": [
                {
                    "linkId": f"l{c}",
                    "objectId": c,
                    "referenceId": p,
                    "linkTag": "dep",
                    "linkType": "dependent",
                }
                for c, p in (("x", "y"), ("y", "x"), ("z", "x"))
            ],
        }
    )
    store.load(batch)
    assert store.validate("viz-cycle")
    info = views.explain(store, "viz-cycle", "x")
    assert info["batchStatus"] == "error"
    assert [e["code"] for e in info["errors"]] == ["dependency-cycle"]
    assert "validation errors" in views.explain_text(info)


# -- subgraph ---------------------------------------------------------------------------------


def test_subgraph_around_an_object_and_the_whole_batch(chain: tuple[MemoryStore, str]) -> None:
    store, bid = chain
    near = views.subgraph(store, bid, "b", 1)
    assert [n["objectId"] for n in near.nodes] == ["b", "a", "c"]
    assert {e["linkId"] for e in near.edges} == {"l-b", "l-c"}
    assert all(e["linkType"] == "dependent" for e in near.edges)
    whole = views.subgraph(store, bid)
    assert {n["objectId"] for n in whole.nodes} == set("abcd")
    assert {e["linkId"]: e["linkType"] for e in whole.edges}["i-1"] == "independent"
    assert whole.note is None and not whole.truncated
    capped = views.subgraph(store, bid, max_nodes=2)
    assert len(capped.nodes) == 2 and capped.truncated
    assert capped.note is not None and "2 of 4" in capped.note
    with pytest.raises(UnknownItemError):
        views.subgraph(store, bid, "zz", 1)
    with pytest.raises(UsageError):
        views.subgraph(store, bid, "a", -1)


# -- exports ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weird() -> views.Subgraph:
    store = MemoryStore()
    bid = started(store, weird_batch('viz-weird "batch"\n'))
    store.fail(bid, "object", "summer", "no such category")
    return views.subgraph(store, bid)


def _unquote_dot(name: str) -> str:
    assert name.startswith('"') and name.endswith('"'), name
    return re.sub(r'\\(["\\n])', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), name[1:-1])


def test_dot_parses_and_keeps_every_id(weird: views.Subgraph) -> None:
    pydot = pytest.importorskip("pydot")
    text = graph_export.to_dot(weird)
    [graph] = pydot.graph_from_dot_data(text)
    names = {
        _unquote_dot(n.get_name()) for n in graph.get_nodes() if n.get_name() not in ("node", "edge", "graph")
    }
    assert names == {n["objectId"] for n in weird.nodes}
    edges = {(_unquote_dot(e.get_source()), _unquote_dot(e.get_destination())) for e in graph.get_edges()}
    assert edges == {(e["child"], e["parent"]) for e in weird.edges}
    styles = {e.get_style() for e in graph.get_edges()}
    assert styles == {"solid", "dashed"}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_dot_renders_with_graphviz(weird: views.Subgraph) -> None:
    done = subprocess.run(
        ["dot", "-Tsvg"],
        input=graph_export.to_dot(weird).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(b'class="node"') == len(weird.nodes)
    assert done.stdout.count(b'class="edge"') == len(weird.edges)


_ENTITY = re.compile(r"#(\d+);")


def test_mermaid_is_structurally_sound(weird: views.Subgraph) -> None:
    text = graph_export.to_mermaid(weird)
    lines = text.splitlines()
    assert lines[0] == "---" and lines[1].startswith("title: ") and lines[2] == "---"
    assert lines[3] == "flowchart BT"
    node_re = re.compile(r'^  (n\d+)\("([^"]*)<br/><small>([^"]*)</small>"\)$')
    edge_re = re.compile(r'^  (n\d+) (-->|-\.->)\|"([^"]*)"\| (n\d+)$')
    nodes: dict[str, str] = {}
    edges = []
    for line in lines[4:]:
        if m := node_re.match(line):
            assert not re.search(r'["<>`|\[\](){}]', m.group(2)), line
            nodes[m.group(1)] = _ENTITY.sub(lambda e: chr(int(e.group(1))), m.group(2))
        elif m := edge_re.match(line):
            edges.append((nodes[m.group(1)], nodes[m.group(4)], m.group(2)))
        else:
            assert re.match(r"^  (classDef|class|linkStyle|%%) ", line), line
    assert sorted(nodes.values()) == sorted(n["objectId"] for n in weird.nodes)
    want = {(e["child"], e["parent"], "-->" if e["linkType"] == "dependent" else "-.->") for e in weird.edges}
    assert set(edges) == want
    assert "class " in text and "classDef failed fill:#F16667" in text


def test_graphml_and_json_round_trip(weird: views.Subgraph) -> None:
    g = nx.read_graphml(__import__("io").BytesIO(graph_export.to_graphml(weird)))
    assert set(g.nodes) == {n["objectId"] for n in weird.nodes}
    assert g.number_of_edges() == len(weird.edges)
    assert {d["status"] for _, d in g.nodes(data=True)} == {n["status"] for n in weird.nodes}
    data = json.loads(graph_export.to_json(weird))
    assert data["nodes"] == weird.nodes and data["edges"] == weird.edges


def test_png_and_svg_are_real_images(weird: views.Subgraph) -> None:
    pytest.importorskip("matplotlib")
    png = graph_export.export(weird, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1024
    svg = graph_export.export(weird, "svg")
    assert b"<svg" in svg[:2000] and len(svg) > 1024
    assert graph_export.export(weird, "png") == png  # no timestamps: the same graph, the same bytes


def test_layout_puts_parents_above_children(weird: views.Subgraph) -> None:
    pos, _ = graph_export.layered_layout(weird)
    for e in weird.edges:
        if e["linkType"] == "dependent":
            assert pos[e["parent"]][1] > pos[e["child"]][1]


def test_image_of_a_cycle_and_of_nothing() -> None:
    pytest.importorskip("matplotlib")
    edge = {"linkTag": "t", "linkType": "dependent", "status": "waiting"}
    cyc = views.Subgraph(
        "viz-c",
        [{"objectId": x, "objectType": "t", "status": "waiting"} for x in "xy"],
        [
            {"linkId": "1", "child": "x", "parent": "y", **edge},
            {"linkId": "2", "child": "y", "parent": "x", **edge},
        ],
    )
    assert graph_export.export(cyc, "png")[:4] == b"\x89PNG"
    assert graph_export.export(views.Subgraph("viz-empty", [], []), "svg").lstrip().startswith(b"<?xml")
    with pytest.raises(UsageError):
        graph_export.export(cyc, "gif")


# -- Browser assets ---------------------------------------------------------------------------


def parse_grass(text: str) -> dict[str, dict[str, str]]:
    """Neo4j Browser's own grass parser, transcribed: ' delimits strings, no comments."""
    rules: dict[str, str] = {}
    keyword, props, inside_string, inside_props = "", "", False, False
    for c in text:
        if c == "{" and not inside_string:
            inside_props = True
            continue
        if c == "}" and not inside_string:
            inside_props = False
            rules[keyword], keyword, props = props, "", ""
            continue
        if c == "'":
            inside_string = not inside_string
            continue
        if inside_props:
            props += c
        elif not c.isspace():
            keyword += c
    out: dict[str, dict[str, str]] = {}
    for key, body in rules.items():
        out[key] = {}
        for prop in body.split(";"):
            k, _, v = prop.partition(":")
            if k.strip() and v.strip():
                out[key][k.strip()] = v.strip()
    return out


def test_grass_colours_match_the_exports() -> None:
    grass = parse_grass(read_asset("resolver.grass").decode())
    assert grass["node.PendingObject"]["caption"] == "{objectId}"
    for status, (fill, border, text) in graph_export.STATUS_COLORS.items():
        rule = grass[f"node.{status.capitalize()}"]
        assert (rule["color"], rule["border-color"], rule["text-color-internal"]) == (fill, border, text)
    assert grass["relationship.DEPENDS_ON"]["color"] == graph_export.LINK_STYLES["dependent"][0]
    assert grass["relationship.LINKED_TO"]["color"] == graph_export.LINK_STYLES["independent"][0]
    assert grass["relationship.DEPENDS_ON"]["shaft-width"] != grass["relationship.LINKED_TO"]["shaft-width"]
    keys = list(grass)
    assert keys.index("node.PendingObject") < min(
        keys.index(f"node.{s.capitalize()}") for s in graph_export.STATUS_COLORS
    )


def test_guide_has_runnable_parameterised_queries() -> None:
    page = read_asset("guide.html", port=9999).decode()
    assert "{{ASSETS}}" not in page and "http://127.0.0.1:9999/resolver.grass" in page
    slides = re.findall(r"<slide\b.*?</slide>", page, flags=re.S)
    assert len(slides) >= 6
    blocks = [
        html.unescape(re.sub(r"<[^>]+>", "", b))
        for b in re.findall(r'<pre class="[^"]*runnable[^"]*">(.*?)</pre>', page, flags=re.S)
    ]
    assert blocks[0].startswith(":param batchId => ")
    queries = [b for b in blocks if b.lstrip().upper().startswith("MATCH")]
    assert len(queries) >= 8
    for q in queries:
        if "(b:Batch)" not in q:
            assert "$batchId" in q, q
    assert any("DEPENDS_ON*1..20]->(o)" in q for q in queries)  # the cycle slide


def test_assets_server_serves_with_cors(assets_port: int) -> None:
    base = f"http://127.0.0.1:{assets_port}"
    with urllib.request.urlopen(f"{base}/resolver.grass", timeout=5) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "node.PendingObject" in r.read().decode()
    with urllib.request.urlopen(f"{base}/guide.html?x=1", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        assert f"{base}/resolver.grass" in r.read().decode()
    pre = urllib.request.Request(
        f"{base}/guide.html",
        method="OPTIONS",
        headers={
            "Origin": "http://127.0.0.1:7474",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "pragma,cache-control",
        },
    )
    with urllib.request.urlopen(pre, timeout=5) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Headers"] == "pragma,cache-control"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{base}/etc/passwd", timeout=5)
    assert err.value.code == 404


def test_assets_server_detached(tmp_path: Path) -> None:
    import socket

    from resolver.local import browser as browser_assets

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pid_file = tmp_path / "assets.pid"
    assert browser_assets.ensure_running(port, pid_file=pid_file) == port
    try:
        assert browser_assets.is_serving(port)
        assert browser_assets.ensure_running(port, pid_file=tmp_path / "other.pid") == port  # reused
        assert not (tmp_path / "other.pid").exists()
    finally:
        assert browser_assets.stop(pid_file)
    assert not browser_assets.is_serving(port)  # stop waits for the process: the port is free
    assert not browser_assets.stop(pid_file)


def test_browser_conf() -> None:
    conf = browser_conf(7475)
    assert conf["browser.post_connect_cmd"] == (
        "style http://127.0.0.1:7475/resolver.grass; play http://127.0.0.1:7475/guide.html"
    )
    assert "127.0.0.1" in conf["browser.remote_content_hostname_whitelist"].split(",")
    assert conf["browser.remote_content_hostname_whitelist"] == ALLOWLIST
    assert (
        browser_conf(8000, guide=False)["browser.post_connect_cmd"]
        == "style http://127.0.0.1:8000/resolver.grass"
    )


# -- CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli_with_views(monkeypatch: pytest.MonkeyPatch, chain: tuple[MemoryStore, str]) -> Any:
    from resolver.cli import cli
    from resolver.cli.app import CliContext

    store, _ = chain
    monkeypatch.setattr(CliContext, "store", lambda self: store)
    return cli


def test_cli_explain_and_graph(cli_with_views: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli_with_views, ["--store", "memory", "explain", "viz-chain", "d"])
    assert out.exit_code == 0, out.output
    assert "d (t) is waiting: upstream, it waits on a (creating" in out.output
    out = runner.invoke(cli_with_views, ["--store", "memory", "explain", "viz-chain", "d", "--json"])
    assert json.loads(out.output)["waitingOn"][0]["path"] == ["d", "c", "b", "a"]
    out = runner.invoke(
        cli_with_views,
        ["--store", "memory", "graph", "viz-chain", "--around", "b", "--depth", "1", "--format", "mermaid"],
    )
    assert out.exit_code == 0 and out.output.count("-->") == 2
    png = tmp_path / "g.png"
    out = runner.invoke(cli_with_views, ["--store", "memory", "graph", "viz-chain", "-o", str(png)])
    if out.exit_code == 0:  # matplotlib installed
        assert png.read_bytes()[:4] == b"\x89PNG"
    # not a terminal: the picture goes to stdout, as dot -Tpng does
    out = runner.invoke(cli_with_views, ["--store", "memory", "graph", "viz-chain", "--format", "png"])
    assert out.exit_code == 0 and out.stdout_bytes[:4] == b"\x89PNG"
    nested = tmp_path / "not" / "yet" / "there.svg"
    out = runner.invoke(cli_with_views, ["--store", "memory", "graph", "viz-chain", "-o", str(nested)])
    assert out.exit_code == 0 and nested.read_bytes().lstrip().startswith(b"<?xml")
    out = runner.invoke(cli_with_views, ["--store", "memory", "explain", "viz-chain", "zz"])
    assert isinstance(out.exception, UnknownItemError)


def test_cypher_string_escaping() -> None:
    from resolver.cli.views import cypher_string

    assert cypher_string("x'}) DETACH DELETE n //") == "'x\\'}) DETACH DELETE n //'"
    assert cypher_string("a\\'b") == "'a\\\\\\'b'"


# -- Neo4j: the same answers as the memory store ----------------------------------------------


@pytest.fixture
def neo4j_views_store(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("neo4j_store")
    except pytest.FixtureLookupError:
        pytest.skip("needs the neo4j_store fixture (tests/conftest.py)")


@pytest.mark.neo4j
def test_neo4j_matches_memory(neo4j_views_store: Any) -> None:
    suffix = uuid.uuid4().hex[:8]
    neo, mem = neo4j_views_store, MemoryStore()
    for batch in (chain_batch(f"viz-chain-{suffix}"), weird_batch(f"viz-weird-{suffix}")):
        bid = batch.batchId
        assert bid is not None
        try:
            for store in (neo, mem):
                started(store, batch)
            ids = [o.objectId for o in batch.objects]
            for oid in ids:
                assert views.explain(neo, bid, oid) == views.explain(mem, bid, oid), oid
            for store in (neo, mem):
                store.fail(bid, "object", ids[0] if bid.startswith("viz-chain") else "shirt", "boom")
            for oid in ids:
                assert views.explain(neo, bid, oid) == views.explain(mem, bid, oid), oid
            for around, depth in ((None, 2), (ids[1], 1), (ids[0], 3)):
                a, b = views.subgraph(neo, bid, around, depth), views.subgraph(mem, bid, around, depth)
                assert (a.nodes, a.edges, a.note) == (b.nodes, b.edges, b.note)
            capped = views.subgraph(neo, bid, max_nodes=2)
            assert len(capped.nodes) == 2 and capped.truncated and capped.note
            with pytest.raises(UnknownItemError):
                views.explain(neo, bid, "no such object")
            assert neo.batch_status(bid) == mem.batch_status(bid)
        finally:
            neo.delete(bid)
    with pytest.raises(UnknownBatchError):
        views.explain(neo, f"viz-none-{suffix}", "a")
