"""Synthetic batches for tests and benchmarks: ``generate`` returns a batch dict in the format of
docs/interface.md (section 1), valid by construction, and the same one for the same arguments.

Every object ``o<i>`` has a *layer* (its type is ``t<layer>``) and a position in a topological
order; a dependent link always goes from a later position (the child) to an earlier one (the
parent), so dependent links never form a cycle. Each link's tag is named after the two types it
joins (``t3-t1``: a ``t3`` child, a ``t1`` parent) and ``linkTags`` declares exactly the tags used.

Shapes (what the dependent links look like):

- ``layered``: 10 to 20 layers of about equal size; a child's parents sit in earlier layers,
  mostly the one just before, so the longest dependency path has one object per layer.
- ``chain``: one dependent chain through about half of the objects, the rest random.
- ``fan-in``: about sqrt(N) parents, every other object is a child of some of them.
- ``fan-out``: about sqrt(N) children, each with many dependent parents.
- ``random``: a random DAG: random pairs, ordered by a random permutation.

Link kinds: about 60% dependent (a fifth of them with ``separateDependentLinkCreate``), 40%
independent, exactly so for a given size. About ``existing`` of the objects carry
``identifierIds``; such an object is never the child of a dependent link without a separate
create. About 5% of the objects have an alias in ``references``, and half of the links to such
an object name the alias.

Memory: the generator keeps a few bytes per object (``bytearray``s); ``generate`` holds the
batch as dicts that share their id and type strings. ``stream_batch`` writes the same batch to a
file without holding it (``linkTags`` then comes last, which JSON does not mind).
"""

from __future__ import annotations

import json
import math
import random
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DEPENDENT_SHARE",
    "SEPARATE_SHARE",
    "SHAPES",
    "generate",
    "stream_batch",
    "write_batch",
]

SHAPES = ("layered", "chain", "fan-in", "fan-out", "random")
DEPENDENT_SHARE = 0.6
SEPARATE_SHARE = 0.2  # of the dependent links
REFERENCE_SHARE = 0.05  # objects that get an alias in references
ALIAS_USE = 0.5  # links to an object with an alias that name it by the alias
_RESAMPLE = 20  # tries to find a non-existing child before a link becomes separate instead
_CHUNK = 10_000


def generate(
    objects: int,
    links: int,
    seed: int,
    shape: str = "layered",
    existing: float = 0.1,
    batch_id: str | None = None,
) -> dict[str, Any]:
    """A valid batch of ``objects`` objects and ``links`` links (no ``batchId`` key when
    ``batch_id`` is None, so loading it generates one)."""
    gen = _Generator(objects, links, seed, shape, existing)
    object_list = list(gen.objects())
    reference_list = list(gen.references())
    link_list = list(gen.links())
    batch: dict[str, Any] = {}
    if batch_id is not None:
        batch["batchId"] = batch_id
    batch["linkTags"] = gen.link_tags()
    batch["objects"] = object_list
    batch["references"] = reference_list
    batch["links"] = link_list
    return batch


def write_batch(batch: dict[str, Any], path: str | Path | IO[str]) -> None:
    """Write ``batch`` as compact JSON (one line), in chunks: a 1M-object batch is never one
    string in memory. ``path`` may be an open text file."""
    _with_output(path, lambda out: _write_sections(out, batch.items()))


def stream_batch(
    path: str | Path | IO[str],
    objects: int,
    links: int,
    seed: int,
    shape: str = "layered",
    existing: float = 0.1,
    batch_id: str | None = None,
) -> None:
    """Write ``generate(...)``'s batch without holding it: the same content, ``linkTags`` last."""
    gen = _Generator(objects, links, seed, shape, existing)

    def sections() -> Iterator[tuple[str, Any]]:
        if batch_id is not None:
            yield "batchId", batch_id
        yield "objects", gen.objects()
        yield "references", gen.references()
        yield "links", gen.links()
        yield "linkTags", gen.link_tags()  # complete only once the links are written

    _with_output(path, lambda out: _write_sections(out, sections()))


# --- the generator --------------------------------------------------------------------------


class _Generator:
    """Object attributes are drawn up front (a byte or two per object); ``links()`` draws the
    links lazily, so ``objects()`` and ``references()`` can be iterated before or after it."""

    def __init__(self, n: int, m: int, seed: int, shape: str, existing: float) -> None:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r} (one of {', '.join(SHAPES)})")
        if n < 0 or m < 0:
            raise ValueError("objects and links must not be negative")
        if m and n < 2:
            raise ValueError("links need at least 2 objects")
        if not 0.0 <= existing <= 1.0:
            raise ValueError("existing must be between 0 and 1")
        self.n, self.m, self.shape = n, m, shape
        self.rng = rng = random.Random(seed)
        self.n_layers = n_layers = max(1, min(rng.randint(10, 20), n))
        rand = rng.random
        self.existing = bytearray(1 if rand() < existing else 0 for _ in range(n))
        self.has_ref = bytearray(1 if rand() < REFERENCE_SHARE else 0 for _ in range(n))
        self.ids = [f"o{i}" for i in range(n)]
        self.types = [f"t{k}" for k in range(n_layers)]
        self.tag_names = [[f"t{c}-t{p}" for p in range(n_layers)] for c in range(n_layers)]
        self.used_tags: set[tuple[int, int]] = set()
        self.hubs = max(1, min(math.isqrt(n), n - 1))  # fan-in parents / fan-out children
        self.chain = min(n, max(2, n // 2))
        # layer of each object: layered = contiguous bands; the others spread the types around
        if shape == "layered":
            self.layer = bytearray(i * n_layers // n for i in range(n))
            self.starts = [-(-k * n // n_layers) for k in range(n_layers + 1)]
        elif shape == "random":
            self.layer = bytearray(int(rand() * n_layers) for _ in range(n))
        elif shape == "fan-in":
            rest = max(1, n_layers - 1)
            self.layer = bytearray(0 if i < self.hubs else min(n_layers - 1, 1 + i % rest) for i in range(n))
        elif shape == "fan-out":
            rest = max(1, n_layers - 1)
            sinks = n - self.hubs
            self.layer = bytearray(n_layers - 1 if i >= sinks else i % rest for i in range(n))
        else:  # chain
            self.layer = bytearray(i % n_layers for i in range(n))
        # position in the topological order -> object index (identity but for "random")
        self.order: array[int] | None = None
        if shape == "random":
            perm = list(range(n))
            rng.shuffle(perm)
            self.order = array("l", perm)

    # -- sections ---------------------------------------------------------------------------

    def objects(self) -> Iterator[dict[str, Any]]:
        ids, types, layer, existing = self.ids, self.types, self.layer, self.existing
        for i in range(self.n):
            if existing[i]:
                yield {"objectId": ids[i], "objectType": types[layer[i]], "identifierIds": {"id": f"ext-{i}"}}
            else:
                yield {"objectId": ids[i], "objectType": types[layer[i]]}

    def references(self) -> Iterator[dict[str, Any]]:
        ids, has_ref = self.ids, self.has_ref
        for i in range(self.n):
            if has_ref[i]:
                yield {"referenceId": f"r{i}", "objectId": ids[i]}

    def link_tags(self) -> dict[str, dict[str, str]]:
        types, names = self.types, self.tag_names
        return {
            names[c][p]: {"childType": types[c], "parentType": types[p]} for c, p in sorted(self.used_tags)
        }

    def links(self) -> Iterator[dict[str, Any]]:
        """Exactly round(60%) dependent links (a fifth of them separate), in random order: each
        link is of a kind with probability remaining-of-that-kind / remaining (selection
        sampling), so the counts are exact and nothing is stored."""
        rng, m = self.rng, self.m
        rand = rng.random
        n_dependent = round(m * DEPENDENT_SHARE)
        n_separate = round(n_dependent * SEPARATE_SHARE)
        left = [n_dependent - n_separate, n_separate, m - n_dependent]  # plain, separate, independent
        ids, layer, names, used = self.ids, self.layer, self.tag_names, self.used_tags
        existing, has_ref, n = self.existing, self.has_ref, self.n
        pick = self._dependent_picker()
        # an existing child gets another draw, except in the chain (a skipped chain link would
        # break it): there the link becomes separate, which keeps it valid
        tries_max = 1 if self.shape == "chain" else _RESAMPLE
        for j in range(m):
            r = rand() * (m - j)
            kind = 0 if r < left[0] else 1 if r < left[0] + left[1] else 2
            left[kind] -= 1
            if kind == 2:
                child = int(rand() * n)
                parent = int(rand() * (n - 1))
                parent += parent >= child  # any other object
                link: dict[str, Any] = {"linkId": f"l{j}", "objectId": ids[child]}
            else:
                separate = kind == 1
                child, parent = pick()
                tries = 1
                while existing[child] and not separate:
                    if tries >= tries_max:
                        separate = True  # only existing children around: keep the link valid
                        break
                    child, parent = pick()
                    tries += 1
                link = {"linkId": f"l{j}", "objectId": ids[child]}
            cl, pl = layer[child], layer[parent]
            used.add((cl, pl))
            if has_ref[parent] and rand() < ALIAS_USE:
                link["referenceId"] = f"r{parent}"
            else:
                link["referenceId"] = ids[parent]
            link["linkTag"] = names[cl][pl]
            if kind == 2:
                link["linkType"] = "independent"
            else:
                link["linkType"] = "dependent"
                link["separateDependentLinkCreate"] = separate
            yield link

    def _dependent_picker(self) -> Callable[[], tuple[int, int]]:
        """A function drawing one (child, parent) pair with the child later in the order."""
        rand, n, shape = self.rng.random, self.n, self.shape
        if shape == "layered":
            starts, layer, n_layers = self.starts, self.layer, self.n_layers
            first = starts[1] if n_layers > 1 else n

            def layered() -> tuple[int, int]:
                child = first + int(rand() * (n - first))
                lc = layer[child]
                lp = lc - 1 if rand() < 0.7 else int(rand() * lc)
                lo, hi = starts[lp], starts[lp + 1]
                return child, lo + int(rand() * (hi - lo))

            if first < n:
                return layered
            shape = "random"  # one layer only (tiny batches): fall through to random pairs
        if shape == "fan-in":
            hubs = self.hubs
            return lambda: (hubs + int(rand() * (n - hubs)), int(rand() * hubs))
        if shape == "fan-out":
            sinks = n - self.hubs
            return lambda: (sinks + int(rand() * (n - sinks)), int(rand() * sinks))
        if shape == "chain":
            chain = self.chain
            state = {"next": 1}

            def chained() -> tuple[int, int]:
                k = state["next"]
                if k < chain:  # the chain first: o1 -> o0, o2 -> o1, ...
                    state["next"] = k + 1
                    return k, k - 1
                return _forward_pair(rand, n, None)

            return chained
        order = self.order
        return lambda: _forward_pair(rand, n, order)


def _forward_pair(rand: Callable[[], float], n: int, order: array[int] | None) -> tuple[int, int]:
    """Two distinct positions, the later one the child; mapped through ``order`` if given."""
    a = int(rand() * n)
    b = int(rand() * (n - 1))
    b += b >= a
    if a < b:
        a, b = b, a
    if order is None:
        return a, b
    return order[a], order[b]


# --- writing --------------------------------------------------------------------------------


def _with_output(path: str | Path | IO[str], write: Callable[[IO[str]], None]) -> None:
    if isinstance(path, str | Path):
        if str(path) == "-":
            write(sys.stdout)
            return
        with open(path, "w", encoding="utf-8") as out:
            write(out)
    else:
        write(path)


def _write_sections(out: IO[str], sections: Iterable[tuple[str, Any]]) -> None:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    out.write("{")
    for k, (key, value) in enumerate(sections):
        out.write(("," if k else "") + dumps(key) + ":")
        if isinstance(value, list | Iterator):
            out.write("[")
            items = iter(value)
            first = True
            while chunk := list(islice(items, _CHUNK)):
                out.write(("" if first else ",") + dumps(chunk)[1:-1])
                first = False
            out.write("]")
        else:
            out.write(dumps(value))
    out.write("}\n")
