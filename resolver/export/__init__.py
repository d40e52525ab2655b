"""Exports of a batch's graph (a ``views.Subgraph``): DOT, Mermaid, GraphML and JSON as text
(``text``), PNG and SVG drawn with matplotlib (``image``), in the look ``style`` defines."""

from __future__ import annotations

from ..errors import UsageError
from ..views import Subgraph
from .image import IMAGE_FORMATS, layered_layout, to_image
from .style import LINK_STYLES, STATUS_COLORS
from .text import to_dot, to_graphml, to_json, to_mermaid

__all__ = [
    "FORMATS",
    "IMAGE_FORMATS",
    "LINK_STYLES",
    "STATUS_COLORS",
    "export",
    "layered_layout",
    "to_dot",
    "to_graphml",
    "to_image",
    "to_json",
    "to_mermaid",
]

FORMATS = ("dot", "mermaid", "graphml", "json", *IMAGE_FORMATS)


def export(sg: Subgraph, fmt: str) -> bytes:
    """The subgraph in ``fmt`` (one of FORMATS), as bytes ready to write."""
    if fmt == "dot":
        return to_dot(sg).encode()
    if fmt == "mermaid":
        return to_mermaid(sg).encode()
    if fmt == "graphml":
        return to_graphml(sg)
    if fmt == "json":
        return to_json(sg).encode()
    if fmt in IMAGE_FORMATS:
        return to_image(sg, fmt)
    raise UsageError(f"unknown graph format {fmt!r} (use {', '.join(FORMATS)})")
