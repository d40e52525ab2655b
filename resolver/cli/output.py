"""What the commands show a person: status tables and the progress bar of a run (rich); the
``--json`` forms live in the models."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from ..engine import RunResult
from ..models import BatchStatus
from ..store.base import GraphStore, Progress

__all__ = ["print_status", "progress_display"]


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


@contextmanager
def progress_display(
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
