"""The graph as text: DOT (Graphviz), Mermaid, GraphML and JSON.

Ids are data, never syntax: DOT and Mermaid output escape every objectId, linkId and tag (quotes,
backslashes, newlines, ``#``, brackets, unicode), so an id like ``x'}) DETACH DELETE n //`` is
just a label. Arrows go from child to parent, as the graph stores them, with parents drawn
above their children.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict

from ..views import Subgraph
from .style import LINK_STYLES, OTHER_COLOR, STATUS_COLORS, colors, edge_label, title

__all__ = ["to_dot", "to_graphml", "to_json", "to_mermaid"]


# -- DOT ------------------------------------------------------------------------------------


def _dot_str(value: object) -> str:
    """A double-quoted DOT string. In a label, ``\\\\`` reads back as one backslash and ``\\"`` as
    a quote; as a node name the same text is kept verbatim by Graphviz, which is fine: every
    name is escaped the same way wherever it appears, so the graph's shape is unchanged."""
    text = str(value)
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return '"' + "".join(ch if ch == "\t" or ord(ch) >= 32 else " " for ch in text) + '"'


def to_dot(sg: Subgraph) -> str:
    lines = [
        f"// {_comment(title(sg))}",
        *([f"// {_comment(sg.note)}"] if sg.note else []),
        "digraph resolver {",
        f'  graph [rankdir=BT, fontname="Helvetica", labelloc=t, label={_dot_str(title(sg))}];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
    ]
    for n in sg.nodes:
        fill, border, text = colors(n["status"])
        label = f"{n['objectId']}\n{n['objectType']}"
        lines.append(
            f'  {_dot_str(n["objectId"])} [label={_dot_str(label)}, fillcolor="{fill}", '
            f'color="{border}", fontcolor="{text}", tooltip={_dot_str(n["status"])}];'
        )
    for e in sg.edges:
        color, width, dashed = LINK_STYLES[e["linkType"]]
        lines.append(
            f"  {_dot_str(e['child'])} -> {_dot_str(e['parent'])} [id={_dot_str(e['linkId'])}, "
            f'label={_dot_str(edge_label(e))}, color="{color}", penwidth={width:g}, '
            f"style={'dashed' if dashed else 'solid'}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _comment(text: str | None) -> str:
    return " ".join(str(text).split())  # one line: a newline would end the comment


# -- Mermaid ----------------------------------------------------------------------------------

_MERMAID_SPECIAL = set('"#&<>`\\|[](){}%;:')


def _mermaid_text(value: object) -> str:
    """Text for inside a quoted Mermaid label: anything Mermaid might parse (quotes, ``#``,
    brackets, HTML, control characters) becomes a ``#code;`` entity."""
    return "".join(
        f"#{ord(ch)};" if ch in _MERMAID_SPECIAL or ord(ch) < 32 or ch in "\u2028\u2029" else ch
        for ch in str(value)
    )


def _mermaid_str(value: object) -> str:
    return f'"{_mermaid_text(value)}"'


def to_mermaid(sg: Subgraph) -> str:
    ids = {n["objectId"]: f"n{i}" for i, n in enumerate(sg.nodes)}
    # A JSON string is a YAML double-quoted scalar: the front matter stays well-formed.
    lines = ["---", f"title: {json.dumps(_comment(title(sg)))}", "---", "flowchart BT"]
    if sg.note:
        lines.append(f"  %% {_comment(sg.note)}")
    by_status: dict[str, list[str]] = defaultdict(list)
    for n in sg.nodes:
        # Our own <br/> and <small> markup around escaped text: the ids cannot add any.
        label = f'"{_mermaid_text(n["objectId"])}<br/><small>{_mermaid_text(n["objectType"])}</small>"'
        lines.append(f"  {ids[n['objectId']]}({label})")
        by_status[n["status"] if n["status"] in STATUS_COLORS else "other"].append(ids[n["objectId"]])
    styles: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(sg.edges):
        arrow = "-.->" if LINK_STYLES[e["linkType"]][2] else "-->"
        lines.append(f"  {ids[e['child']]} {arrow}|{_mermaid_str(edge_label(e))}| {ids[e['parent']]}")
        styles[e["linkType"]].append(i)
    for status, (fill, border, text) in [*STATUS_COLORS.items(), ("other", OTHER_COLOR)]:
        lines.append(f"  classDef {status} fill:{fill},stroke:{border},color:{text}")
    for status, members in by_status.items():
        lines.append(f"  class {','.join(members)} {status}")
    for link_type, idx in styles.items():
        color, width, _ = LINK_STYLES[link_type]
        lines.append(f"  linkStyle {','.join(map(str, idx))} stroke:{color},stroke-width:{width:g}px")
    return "\n".join(lines) + "\n"


# -- GraphML and JSON -------------------------------------------------------------------------

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(value: object) -> str:
    return _XML_BAD.sub("\ufffd", str(value))


def to_graphml(sg: Subgraph) -> bytes:
    import networkx as nx  # here: every other command starts without it (0.15 s)

    g = nx.MultiDiGraph(batchId=_xml_safe(sg.batch_id), note=_xml_safe(sg.note or ""))
    for n in sg.nodes:
        g.add_node(
            _xml_safe(n["objectId"]),
            objectType=_xml_safe(n["objectType"]),
            status=_xml_safe(n["status"]),
            color=colors(n["status"])[0],
        )
    for e in sg.edges:
        g.add_edge(
            _xml_safe(e["child"]),
            _xml_safe(e["parent"]),
            key=_xml_safe(e["linkId"]),
            linkId=_xml_safe(e["linkId"]),
            linkTag=_xml_safe(e["linkTag"]),
            linkType=e["linkType"],
            status=_xml_safe(e["status"]),
        )
    buf = io.BytesIO()
    nx.write_graphml(g, buf, encoding="utf-8")
    return buf.getvalue()


def to_json(sg: Subgraph) -> str:
    return json.dumps(sg.to_json(), ensure_ascii=False, indent=2) + "\n"
