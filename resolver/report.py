"""Human-readable status output (rich tables); ``--json`` output lives in the models."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .models import BatchStatus

__all__ = ["print_status"]


def print_status(st: BatchStatus, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    console.print(f"batch [bold]{st.batchId}[/]: [bold]{st.status}[/]")
    counts = Table("", "total", *sorted(set(st.objects) | set(st.links)), box=None)
    for name, by in (("objects", st.objects), ("links", st.links)):
        counts.add_row(
            name, str(sum(by.values())), *(str(by.get(s, 0)) for s in sorted(set(st.objects) | set(st.links)))
        )
    console.print(counts)
    for e in st.errors:
        console.print(f"[red]{e['code']}[/]: {e['message']}", markup=True)
    for f in st.failures:
        ident = f.get("objectId") or f.get("linkId")
        console.print(f"[red]failed[/] {f['kind']} {ident}: {f.get('reason')}")
    if st.objectList is not None:
        table = Table("objectId", "objectType", "status", "identifierIds", title="objects")
        for o in st.objectList:
            table.add_row(
                o["objectId"],
                o["objectType"],
                o["status"],
                ", ".join(f"{k}={v}" for k, v in (o.get("identifierIds") or {}).items()),
            )
        console.print(table)
    if st.linkList is not None:
        table = Table("linkId", "linkTag", "type", "child", "parent", "status", title="links")
        for link in st.linkList:
            table.add_row(
                link["linkId"],
                link.get("linkTag", ""),
                link.get("linkType", ""),
                link.get("objectId", ""),
                link.get("parentObjectId") or link.get("referenceId", ""),
                link["status"],
            )
        console.print(table)
