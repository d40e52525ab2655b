"""How the exports look: one colour per object status (Neo4j Browser's own palette, the same
as ``resolver/local/browser_files/resolver.grass``), dependent links solid and independent ones
dashed, and the words every format shares (titles, edge labels)."""

from __future__ import annotations

from typing import Any

from ..views import Subgraph

__all__ = ["LINK_STYLES", "OTHER_COLOR", "STATUS_COLORS", "colors", "count", "edge_label", "title"]

# fill, border, text: Neo4j Browser's own palette pairs, the same as resolver.grass.
STATUS_COLORS: dict[str, tuple[str, str, str]] = {
    "waiting": ("#FFD86E", "#EDBA39", "#604A0E"),
    "ready": ("#68BDF6", "#5CA8DB", "#FFFFFF"),
    "creating": ("#F79767", "#F36924", "#FFFFFF"),
    "complete": ("#6DCE9E", "#60B58B", "#FFFFFF"),
    "failed": ("#F16667", "#EB2728", "#FFFFFF"),
    "blocked": ("#A5ABB6", "#9AA1AC", "#FFFFFF"),
}
OTHER_COLOR = ("#DDDDDD", "#C8C8C8", "#333333")
# colour, width (px), dashed: DEPENDS_ON and LINKED_TO in the grass file.
LINK_STYLES: dict[str, tuple[str, float, bool]] = {
    "dependent": ("#4C8EDA", 2.0, False),
    "independent": ("#C990C0", 1.2, True),
}


def colors(status: str | None) -> tuple[str, str, str]:
    return STATUS_COLORS.get(status or "", OTHER_COLOR)


def edge_label(e: dict[str, Any]) -> str:
    # waiting and complete are the ordinary states of a link; the others are worth a word.
    status = e.get("status")
    return str(e["linkTag"]) if status in ("waiting", "complete") else f"{e['linkTag']} ({status})"


def title(sg: Subgraph) -> str:
    where = f" around {sg.around} (depth {sg.depth})" if sg.around is not None else ""
    return f"batch {sg.batch_id}{where}: {count(len(sg.nodes), 'object')}, {count(len(sg.edges), 'link')}"


def count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
