"""The graph as a picture (PNG or SVG), drawn with matplotlib from a layered layout computed here,
so no Graphviz binary is needed. Parents are drawn above their children; colours and link styles
come from ``style``.
"""

from __future__ import annotations

import io
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..errors import UsageError
from ..views import Subgraph
from .style import LINK_STYLES, STATUS_COLORS, colors, edge_label, title

__all__ = ["IMAGE_FORMATS", "layered_layout", "to_image"]

IMAGE_FORMATS = ("png", "svg")

# -- PNG / SVG --------------------------------------------------------------------------------

_ROW = 1.0  # inches between layers
_GAP = 0.35  # inches between boxes in a layer
_FONT = 8.5  # points
_CHAR = 0.6 * _FONT / 72  # inches per character of DejaVu Sans Mono
_BOX_H = 0.42
_MAX_ROW = 40  # objects per drawn row; a wider layer wraps
_MAX_INCHES = 120.0
_MAX_PIXELS = 8e6  # a 5000-object batch draws small (--around reads better) and stays ~10 MB
_DETAIL = 400  # above this many objects or links, draw lighter (no type line, plain lines)


def _text_width(text: str) -> float:
    wide = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return wide * _CHAR


def layered_layout(sg: Subgraph) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """Positions (inches, y up) and box widths: parents above children along dependent links
    (cycles of an invalid batch are collapsed to one layer), barycentre ordering in each layer."""
    import networkx as nx  # here: every other command starts without it (0.15 s)

    dep = nx.DiGraph()
    dep.add_nodes_from(n["objectId"] for n in sg.nodes)
    dep.add_edges_from(
        (e["parent"], e["child"])
        for e in sg.edges
        if e["linkType"] == "dependent" and e["child"] != e["parent"]
    )
    cond = nx.condensation(dep)
    rank: dict[int, int] = {}
    for c in nx.topological_sort(cond):
        rank[c] = max((rank[p] + 1 for p in cond.predecessors(c)), default=0)
    members = cond.graph["mapping"]
    layers: dict[int, list[str]] = defaultdict(list)
    for oid in dep.nodes:  # in the subgraph's (sorted) node order
        layers[rank[members[oid]]].append(oid)
    rows = _wrap([layers[k] for k in sorted(layers)])
    edges = [(e["child"], e["parent"]) for e in sg.edges]
    _order(rows, edges)
    types = {n["objectId"]: str(n["objectType"]) for n in sg.nodes}
    widths = {oid: max(_text_width(oid), _text_width(types[oid]) * 0.85) + 0.3 for oid in dep}
    xs = _positions(rows, edges, widths)
    pos = {oid: (xs[oid], -r * _ROW) for r, row in enumerate(rows) for oid in row}
    return pos, widths


def _positions(
    rows: list[list[str]], edges: list[tuple[str, str]], widths: dict[str, float], sweeps: int = 6
) -> dict[str, float]:
    """x of each box: first packed and centred, then pulled towards the mean x of its linked
    boxes row by row, keeping the order and the gaps (so a parent sits above its children)."""
    nbrs: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        if a != b:
            nbrs[a].append(b)
            nbrs[b].append(a)
    x: dict[str, float] = {}
    for row in rows:
        total = sum(widths[o] for o in row) + _GAP * (len(row) - 1)
        left = -total / 2
        for oid in row:
            x[oid] = left + widths[oid] / 2
            left += widths[oid] + _GAP
    for sweep in range(sweeps):
        for row in rows if sweep % 2 == 0 else reversed(rows):
            want = [sum(x[n] for n in nbrs[o]) / len(nbrs[o]) if nbrs[o] else x[o] for o in row]
            placed = list(want)
            for i in range(1, len(row)):  # push right to keep the gaps, in order
                least = placed[i - 1] + (widths[row[i - 1]] + widths[row[i]]) / 2 + _GAP
                placed[i] = max(placed[i], least)
            shift = sum(w - p for w, p in zip(want, placed, strict=True)) / max(len(row), 1)
            for oid, p in zip(row, placed, strict=True):
                x[oid] = p + shift
    return x


def _wrap(layers: list[list[str]]) -> list[list[str]]:
    rows = []
    for layer in layers:
        rows += [layer[i : i + _MAX_ROW] for i in range(0, len(layer), _MAX_ROW)] or [[]]
    return rows


def _order(rows: list[list[str]], edges: Iterable[tuple[str, str]], sweeps: int = 4) -> None:
    """Barycentre heuristic: sort each row by the mean position of its neighbours in the row
    above (downward sweeps) or below (upward sweeps), which removes most crossings."""
    nbrs: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    for sweep in range(sweeps):
        order = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        for r in order:
            ref = rows[r - 1] if sweep % 2 == 0 else rows[r + 1]
            at = {oid: i for i, oid in enumerate(ref)}
            current = {oid: i for i, oid in enumerate(rows[r])}

            def key(oid: str, at: dict[str, int] = at, current: dict[str, int] = current) -> float:
                near = [at[n] for n in nbrs[oid] if n in at]
                return sum(near) / len(near) if near else float(current[oid])

            rows[r].sort(key=key)


def to_image(sg: Subgraph, fmt: str) -> bytes:
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch
    except ImportError:
        raise UsageError(
            f"{fmt.upper()} output needs matplotlib (pip install matplotlib); "
            "dot, mermaid, graphml and json need nothing more"
        ) from None
    if fmt not in IMAGE_FORMATS:
        raise UsageError(f"unknown image format {fmt!r} (use png or svg)")
    pos, widths = layered_layout(sg)
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    half = max(widths.values(), default=1.0) / 2
    x0, x1 = min(xs) - half - 0.3, max(xs) + half + 0.3
    y0, y1 = min(ys) - 0.6, max(ys) + 0.9  # room for the title
    legend_width = 1.2 * (len(STATUS_COLORS) + 2) + 1.0  # the widest legend row, inches
    if x1 - x0 < legend_width:  # a narrow graph: widen the page on both sides, keep it centred
        x0 -= (legend_width - (x1 - x0)) / 2
    width, height = max(x1 - x0, legend_width), max(y1 - y0, 2.0)
    scale = min(1.0, _MAX_INCHES / max(width, height))
    dpi = min(110.0, (_MAX_PIXELS / (width * height * scale * scale)) ** 0.5)
    fig = Figure(figsize=(width * scale, height * scale), dpi=dpi)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(x0, x0 + width)
    ax.set_ylim(y1 - height, y1)
    ax.set_axis_off()
    mono = {"family": _fonts()}
    fs = _FONT * scale
    boxes: dict[str, Any] = {}
    statuses = set()
    for n in sg.nodes:
        oid = n["objectId"]
        x, y = pos[oid]
        fill, border, text = colors(n["status"])
        statuses.add(n["status"])
        w = widths[oid]
        box = FancyBboxPatch(
            (x - w / 2, y - _BOX_H / 2),
            w,
            _BOX_H,
            boxstyle="round,pad=0,rounding_size=0.08",
            facecolor=fill,
            edgecolor=border,
            linewidth=1.2 * scale,
            zorder=3,
        )
        ax.add_patch(box)
        boxes[oid] = box
        detail = len(sg.nodes) <= _DETAIL
        ax.text(
            x,
            y + (0.06 if detail else 0.0),
            _display(oid),
            ha="center",
            va="center",
            fontsize=fs,
            color=text,
            zorder=4,
            fontdict=mono,
            fontweight="bold",
        )
        if detail:
            ax.text(
                x,
                y - 0.12,
                _display(n["objectType"]),
                ha="center",
                va="center",
                fontsize=fs * 0.8,
                color=text,
                alpha=0.85,
                zorder=4,
                fontdict=mono,
            )
    if len(sg.edges) > _DETAIL:
        _plain_edges(ax, sg, pos, scale)
    else:
        _arrows(ax, sg, pos, boxes, scale, fs, mono)
    _legend(ax, sg, statuses, x0, y1, fs)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph the font lacks is drawn as a box, not an error
        fig.savefig(buf, format=fmt, facecolor="white", metadata=_metadata(fmt))
    return buf.getvalue()


def _plain_edges(ax: Any, sg: Subgraph, pos: dict[str, tuple[float, float]], scale: float) -> None:
    """Many links: straight lines under the boxes, one collection per link type (fast); the
    layering still tells the parent, the upper end."""
    from matplotlib.collections import LineCollection

    for link_type, (color, lw, dashed) in LINK_STYLES.items():
        segments = [
            (pos[e["child"]], pos[e["parent"]])
            for e in sg.edges
            if e["linkType"] == link_type and e["child"] != e["parent"]
        ]
        if segments:
            ax.add_collection(
                LineCollection(
                    segments,
                    colors=color,
                    linewidths=lw * scale * 0.7,
                    linestyles="dashed" if dashed else "solid",
                    zorder=2,
                )
            )


def _arrows(
    ax: Any,
    sg: Subgraph,
    pos: dict[str, tuple[float, float]],
    boxes: dict[str, Any],
    scale: float,
    fs: float,
    mono: dict[str, Any],
) -> None:
    """Arrows clipped at the boxes, independent links curved a little, tags as labels."""
    from matplotlib.patches import FancyArrowPatch

    show_labels = len(sg.edges) <= 200
    out_deg: dict[str, int] = defaultdict(int)
    in_deg: dict[str, int] = defaultdict(int)
    for e in sg.edges:
        out_deg[e["child"]] += 1
        in_deg[e["parent"]] += 1
    for e in sg.edges:
        color, lw, dashed = LINK_STYLES[e["linkType"]]
        a, b = e["child"], e["parent"]
        rad = 0.0 if e["linkType"] == "dependent" else 0.18
        if a == b:
            continue  # a self-link: counted in the title, not drawable as an arrow here
        ax.add_patch(
            FancyArrowPatch(
                pos[a],
                pos[b],
                patchA=boxes[a],
                patchB=boxes[b],
                arrowstyle="-|>",
                mutation_scale=11 * scale,
                color=color,
                linewidth=lw * scale,
                linestyle=(0, (4, 3)) if dashed else "-",
                connectionstyle=f"arc3,rad={rad}",
                zorder=2,
            )
        )
        if show_labels:
            # Put the label near the end where edges fan out, so siblings' labels do not pile up.
            t = 0.5
            if in_deg[b] > 1 >= out_deg[a]:
                t = 0.35
            elif out_deg[a] > 1 >= in_deg[b]:
                t = 0.6
            lx, ly = _arc_point(pos[a], pos[b], rad, t)
            ax.text(
                lx,
                ly,
                _display(edge_label(e)),
                ha="center",
                va="center",
                fontsize=fs * 0.75,
                color="#444444",
                zorder=5,
                fontdict=mono,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )


def _legend(ax: Any, sg: Subgraph, statuses: set[str], x0: float, y1: float, fs: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    heading = title(sg) + (f"\n{sg.note}" if sg.note else "")
    ax.text(x0 + 0.2, y1 - 0.15, heading, ha="left", va="top", fontsize=fs * 1.1, color="#222222")
    handles: list[Any] = [
        Patch(facecolor=colors(s)[0], edgecolor=colors(s)[1], label=s)
        for s in [*STATUS_COLORS, *sorted(str(s) for s in statuses - set(STATUS_COLORS))]
        if s in statuses
    ]
    handles += [
        Line2D(
            [],
            [],
            color=LINK_STYLES[t][0],
            linestyle="--" if LINK_STYLES[t][2] else "-",
            linewidth=LINK_STYLES[t][1],
            label=f"{t} link",
        )
        for t in ("dependent", "independent")
        if any(e["linkType"] == t for e in sg.edges)
    ]
    if handles:
        # One row under the title, in the band above the top layer, so it never covers a box.
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(x0 + 0.1, y1 - 0.32),
            bbox_transform=ax.transData,
            ncol=len(handles),
            fontsize=fs * 0.8,
            frameon=False,
            handlelength=1.6,
            columnspacing=1.2,
            borderaxespad=0,
        )


def _arc_point(p0: tuple[float, float], p2: tuple[float, float], rad: float, t: float) -> tuple[float, float]:
    """The point at ``t`` on matplotlib's ``arc3`` connection (a quadratic Bezier curve)."""
    (x0, y0), (x2, y2) = p0, p2
    cx, cy = (x0 + x2) / 2 + rad * (y2 - y0), (y0 + y2) / 2 - rad * (x2 - x0)
    u = 1 - t
    return u * u * x0 + 2 * u * t * cx + t * t * x2, u * u * y0 + 2 * u * t * cy + t * t * y2


def _display(text: object) -> str:
    """One line of drawable text: control characters shown as symbols, not obeyed."""
    return "".join("\u21b5" if ch == "\n" else "\ufffd" if ord(ch) < 32 else ch for ch in str(text))


def _fonts() -> list[str]:
    """DejaVu Sans Mono (shipped with matplotlib) and, where installed, fonts with CJK glyphs."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    wanted = [
        "DejaVu Sans Mono",
        "Noto Sans Mono CJK JP",
        "Noto Sans CJK JP",
        "WenQuanYi Zen Hei",
        "Droid Sans Fallback",
        "DejaVu Sans",
    ]
    return [name for name in wanted if name in have] or ["monospace"]


def _metadata(fmt: str) -> dict[str, Any]:
    # No date and no software version in the file: the same graph renders to the same bytes.
    return {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
