"""``resolver generate``: write a synthetic, valid batch file (see ``resolver.generate``)."""

from __future__ import annotations

import click

from ..generate import SHAPES, stream_batch
from .app import cli

__all__ = ["generate"]


@cli.command("generate")
@click.option(
    "--objects",
    "n_objects",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Number of objects.",
)
@click.option(
    "--links",
    "n_links",
    type=click.IntRange(min=0),
    default=None,
    help="Number of links  [default: twice the objects].",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same arguments always give the same batch.",
)
@click.option(
    "--shape",
    type=click.Choice(SHAPES),
    default="layered",
    show_default=True,
    help="What the dependent links look like.",
)
@click.option(
    "--existing",
    type=click.FloatRange(0.0, 1.0),
    default=0.1,
    show_default=True,
    help="Share of objects that already exist (carry identifierIds).",
)
@click.option(
    "--batch-id",
    default=None,
    help="The batchId written in the file (default: none, so loading generates one).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    show_default=True,
    help="Output file ('-' = stdout).",
)
def generate(
    n_objects: int,
    n_links: int | None,
    seed: int,
    shape: str,
    existing: float,
    batch_id: str | None,
    output: str,
) -> None:
    """Write a synthetic batch (compact JSON) that loads and validates without errors.

    Objects are typed by layer (t0, t1, ...), about 60% of the links are dependent (a fifth of
    those with separateDependentLinkCreate), the rest independent; some links name their parent
    through a references alias. The batch is streamed, so a million objects need little memory.
    """
    if n_links is None:
        n_links = 2 * n_objects
    if n_links and n_objects < 2:
        raise click.BadParameter("links need at least 2 objects", param_hint="--objects")
    if batch_id == "":
        raise click.BadParameter("must not be empty", param_hint="--batch-id")
    try:
        stream_batch(output, n_objects, n_links, seed, shape, existing, batch_id)
    except OSError as exc:
        raise click.FileError(output, hint=exc.strerror or str(exc)) from None
