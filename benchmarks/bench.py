"""Load + validate + resolve a generated batch on each store, against an in-process floor.

    python benchmarks/bench.py [--sizes 10k,100k] [--memory-sizes 10k,100k,1M]
                               [--skip-neo4j] [--shape layered] [--seed 1] [--sample 100]
                               [--warmup 30000] [--no-cli-rss]

For each size N (N objects, 2N links, ``resolver.generate``'s ``--shape``), one batch file is
generated and every run reads that same file:

- ``floor``: ``graphlib.TopologicalSorter`` over the dependent links, in-process
  (prepare / get_ready / done, touching every object and every link once);
- ``memory``: ``MemoryStore`` load, validate, ``resolve`` with ``SimulateAdapter()``;
- ``neo4j``: the same on ``Neo4jStore`` (``--sizes`` only; connection as ``resolver`` finds it:
  NEO4J_URI/NEO4J_PASSWORD, else the local server), plus PROFILE db hits per item of the
  claim and of complete_objects on a sample of ready objects, in a transaction that is rolled
  back.

Each run is a fresh process (this script with a hidden ``--one``, reading the file as the
command does: ``open_plan``, then ``store.load`` of the plan), so its peak RSS (``ru_maxrss``,
read after each phase) is its own. For each Neo4j size the real command runs too, each in a
fresh process whose peak RSS is read by its parent (``RUSAGE_CHILDREN``): ``resolver load FILE``,
then ``resolver run FILE`` (load and the whole run, ``simulate``), the client memory of each
(``--no-cli-rss`` skips them: at 1M they take several minutes).

Every run (and each real command) starts once the machine is quiet: a second with under a tenth
of its CPU busy, or after a minute of waiting (``wait_quiet``), so that the server's own work after
the previous run does not land on the next one's clock.

Before the timed Neo4j runs, one untimed run of ``--warmup`` objects lets the server's JIT
compile its hot paths, as it has in any server that has been up for a while: a just-started
Neo4j ran the 100k batch in 30-50 s instead of 25-28 s.
Neo4j batches are named ``bench-...`` and deleted afterwards.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

STORES = ("floor", "memory", "neo4j")


# --- one run, in its own process ----------------------------------------------------------------


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_one(store_kind: str, path: str, batch_id: str, sample: int) -> dict[str, Any]:
    from resolver.batchfile.loader import load_batch, open_plan

    out: dict[str, Any] = {"store": store_kind}
    if store_kind == "floor":  # the floor walks the batch in memory, as the memory store holds it
        t0 = time.perf_counter()
        batch = load_batch(path, batch_id)
        out["parse"] = time.perf_counter() - t0
        out["objects"] = len(batch.objects)
        out["links"] = len(batch.links)
        t0 = time.perf_counter()
        touched = graphlib_walk(batch)
        out["walk"] = time.perf_counter() - t0
        out["touched"] = touched
        out["rss"] = _rss_mib()
        return out
    t0 = time.perf_counter()
    plan = open_plan(path, batch_id)  # pass 1: the whole file checked, nothing stored
    out["parse"] = time.perf_counter() - t0
    out["objects"] = plan.object_count
    out["links"] = plan.link_count
    out["rss_parse"] = _rss_mib()

    from resolver.adapters.simulate import SimulateAdapter
    from resolver.config import open_store
    from resolver.engine import resolve

    store = open_store(store_kind)
    try:
        if store_kind == "neo4j":
            store.ensure_schema()  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        store.load(plan)  # pass 2: the file read again, a chunk at a time
        out["load"] = time.perf_counter() - t0
        del plan
        gc.collect()
        out["rss_load"] = _rss_mib()
        t0 = time.perf_counter()
        errors = store.validate(batch_id)
        out["validate"] = time.perf_counter() - t0
        out["rss_validate"] = _rss_mib()
        if errors:
            raise SystemExit(f"generated batch has {len(errors)} validation errors: {errors[:3]}")
        if store_kind == "neo4j" and sample:
            out["profile"] = profile_completion(store, batch_id, sample)
        t0 = time.perf_counter()
        result = resolve(store, batch_id, SimulateAdapter())
        out["resolve"] = time.perf_counter() - t0
        out["rss"] = _rss_mib()
        out["status"] = result.status
        out["dispatched"] = result.dispatched
        if result.status != "complete":
            raise SystemExit(f"batch ended {result.status!r}, not complete")
    finally:
        if store_kind == "neo4j":
            t0 = time.perf_counter()
            store.delete(batch_id)
            out["delete"] = time.perf_counter() - t0
        store.close()
    return out


def graphlib_walk(batch: Any) -> int:
    """The floor: the dependency walk with nothing stored, dispatched or recorded."""
    alias = {r.referenceId: r.objectId for r in batch.references}
    links_of: dict[str, list[str]] = {}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for o in batch.objects:
        sorter.add(o.objectId)
        links_of[o.objectId] = []
    for link in batch.links:
        links_of[link.objectId].append(link.linkId)
        if link.dependent:
            sorter.add(link.objectId, alias.get(link.referenceId, link.referenceId))
    sorter.prepare()
    touched = 0
    while sorter.is_active():
        ready = sorter.get_ready()
        for node in ready:
            touched += 1 + len(links_of[node])
        sorter.done(*ready)
    return touched


def profile_completion(store: Any, batch_id: str, sample: int) -> dict[str, Any]:
    """PROFILE a claim, then complete_objects on what it claimed, in one transaction that
    is rolled back: db hits per item."""
    from resolver.store.queries import query

    def hits(plan: dict[str, Any]) -> int:
        return int(plan.get("dbHits", 0)) + sum(hits(c) for c in plan.get("children", []))

    def profiled(tx: Any, name: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
        q = query(name)
        result = tx.run("PROFILE " + q.text, q.bind(params))
        rows = [r.data() for r in result]
        if len(rows) == 1 and list(rows[0]) == ["rows"]:  # a query that returns one list of rows
            rows = rows[0]["rows"]
        return rows, hits(result.consume().profile or {})

    store.start(batch_id)
    with store._driver.session(database=store.database) as session:
        tx = session.begin_transaction()
        try:
            claimed, claim_hits = profiled(
                tx,
                "claim",
                batchId=batch_id,
                limit=sample,
                worker="bench-profile",
                leaseUntil=time.time() + 600,
                gen=None,
            )
            ids = [r["objectId"] for r in claimed[0]["objects"]]
            items = [{"objectId": i, "identifierIds": json.dumps({"id": f"sim-{i}"})} for i in ids]
            per_query = {}
            # complete_objects releases the links and children itself: nothing follows it
            _, per_query["complete_objects"] = profiled(
                tx, "complete_objects", batchId=batch_id, items=items, worker="bench-profile"
            )
        finally:
            tx.rollback()
    n = max(1, len(ids))
    return {
        "items": len(ids),
        "claim_per_item": claim_hits / n,
        "per_item": {k: v / n for k, v in per_query.items()},
        "completion_per_item": sum(per_query.values()) / n,
    }


# --- the driver -------------------------------------------------------------------------------


def _busy_and_total() -> tuple[int, int]:
    """The machine's CPU time so far (all cores, clock ticks): busy, and in all."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def wait_quiet(most: float = 60.0, busy_below: float = 0.1) -> float:
    """Wait until the machine is quiet: a second in which under ``busy_below`` of its CPU was busy,
    or ``most`` seconds. Neo4j may go on working after a run (compiling its hot paths,
    checkpoints, index sampling): in one full benchmark the memory store's load, right after the
    warm-up, took 2.19 s against 1.27-1.42 s in every other run of it that day. Returns the
    seconds waited (0 where /proc/stat is missing)."""
    started = time.monotonic()
    try:
        before = _busy_and_total()
    except OSError:
        return 0.0
    while time.monotonic() - started < most:
        time.sleep(1.0)
        after = _busy_and_total()
        busy, total = after[0] - before[0], after[1] - before[1]
        if total and busy / total < busy_below:
            break
        before = after
    return time.monotonic() - started


def spawn(store_kind: str, path: Path, batch_id: str, sample: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", store_kind, str(path), batch_id, "--sample", str(sample)]
    waited = wait_quiet()
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{store_kind} run on {path.name} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    result["waited"] = waited
    return result


_CLI_RSS = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
print(json.dumps({"code": p.returncode, "err": p.stderr[-500:],
                  "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def cli_rss(path: Path, batch_id: str) -> dict[str, float]:
    """Peak RSS (MiB) and wall time of ``resolver load FILE`` and of ``resolver run FILE``, each
    the real command in a fresh process; the batch is deleted after each."""
    from resolver.config import open_store

    out: dict[str, float] = {}
    resolver = [sys.executable, "-m", "resolver"]
    for command in ("load", "run"):
        cmd = [*resolver, command, str(path), "--batch-id", f"{batch_id}-{command}"]
        wait_quiet()
        t0 = time.perf_counter()
        measured = [sys.executable, "-c", _CLI_RSS, *cmd]
        proc = subprocess.run(measured, capture_output=True, text=True, check=False)
        out[f"{command}_wall"] = time.perf_counter() - t0
        result = json.loads(proc.stdout)
        if result["code"] != 0:
            problem = f"exit {result['code']}: {result['err']}"
            raise SystemExit(f"resolver {command} {path.name} failed ({problem})")
        out[f"{command}_rss"] = result["rss"]
        store = open_store("neo4j")
        try:
            store.delete(f"{batch_id}-{command}")
        finally:
            store.close()
    return out


def sizes(text: str) -> list[int]:
    """'10k,100000,1M' -> [10000, 100000, 1000000]."""
    out = []
    for item in text.replace("_", "").split(","):
        item = item.strip()
        if item:
            scale = {"k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}.get(item[-1], 1)
            out.append(int(item[:-1] if scale > 1 else item) * scale)
    return out


def fmt_n(n: int) -> str:
    return (
        f"{n // 1_000_000}M"
        if n >= 1_000_000 and n % 1_000_000 == 0
        else (f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))
    )


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "store",
        "objects",
        "links",
        "parse",
        "load",
        "validate",
        "resolve",
        "total",
        "items/s",
        "peak RSS MiB (load/val/end)",
        "x floor",
    )
    lines = [head]
    floors = {r["objects"]: r["walk"] for r in rows if r["store"] == "floor"}
    for r in rows:
        items = r["objects"] + r["links"]
        if r["store"] == "floor":
            work = r["walk"]
            cells = (
                "floor",
                fmt_n(r["objects"]),
                fmt_n(r["links"]),
                f"{r['parse']:.2f}",
                "-",
                "-",
                f"{work:.2f}",
                f"{work:.2f}",
                f"{items / work:,.0f}",
                f"{r['rss']:,.0f}",
                "1.0",
            )
        else:
            work = r["load"] + r["validate"] + r["resolve"]
            floor = floors.get(r["objects"])
            cells = (
                r["store"],
                fmt_n(r["objects"]),
                fmt_n(r["links"]),
                f"{r['parse']:.2f}",
                f"{r['load']:.2f}",
                f"{r['validate']:.2f}",
                f"{r['resolve']:.2f}",
                f"{work:.2f}",
                f"{items / work:,.0f}",
                f"{r['rss_load']:,.0f} / {r['rss_validate']:,.0f} / {r['rss']:,.0f}",
                f"{work / floor:.1f}" if floor else "-",
            )
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def ratios(rows: list[dict[str, Any]]) -> Iterable[str]:
    def total(r: dict[str, Any]) -> float:
        return float(r["walk"]) if r["store"] == "floor" else float(r["load"] + r["validate"] + r["resolve"])

    for store in STORES:
        mine = sorted((r for r in rows if r["store"] == store), key=lambda r: r["objects"])
        for small, big in itertools.pairwise(mine):
            parts = ""
            if store != "floor":
                parts = (
                    "  ("
                    + ", ".join(
                        f"{k} {big[k] / max(small[k], 1e-9):.1f}" for k in ("load", "validate", "resolve")
                    )
                    + ")"
                )
            yield (
                f"{store:7} T({fmt_n(big['objects'])})/T({fmt_n(small['objects'])}) = "
                f"{total(big) / total(small):.1f}  for {big['objects'] / small['objects']:.0f}x the items"
                + parts
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=sizes,
        default=[10_000, 100_000],
        help="objects per batch for Neo4j and the floor (links = 2 x objects); 10k, 1M allowed",
    )
    parser.add_argument(
        "--memory-sizes",
        type=sizes,
        default=[10_000, 100_000, 1_000_000],
        help="objects per batch for the memory store (and the floor)",
    )
    parser.add_argument("--skip-neo4j", action="store_true")
    parser.add_argument("--shape", default="layered")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--existing", type=float, default=0.1)
    parser.add_argument("--sample", type=int, default=100, help="objects to PROFILE per Neo4j size")
    parser.add_argument(
        "--warmup", type=int, default=30_000, help="objects in the untimed Neo4j run first (0: none)"
    )
    parser.add_argument(
        "--no-cli-rss",
        dest="cli_rss",
        action="store_false",
        help="skip the client memory of the real 'resolver load' and 'resolver run' (Neo4j sizes)",
    )
    parser.add_argument("--one", nargs=3, metavar=("STORE", "FILE", "BATCH_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:
        store_kind, path, batch_id = args.one
        print(json.dumps(run_one(store_kind, path, batch_id, args.sample)), flush=True)
        return

    from resolver.generate import stream_batch

    neo4j_sizes = [] if args.skip_neo4j else args.sizes
    all_sizes = sorted(set(args.sizes) | set(args.memory_sizes))
    rows: list[dict[str, Any]] = []
    cli: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="resolver-bench-") as tmp:
        if neo4j_sizes and args.warmup > 0:
            path = Path(tmp) / "warmup.json"
            stream_batch(path, args.warmup, 2 * args.warmup, args.seed + 1, args.shape, args.existing)
            r = spawn("neo4j", path, f"bench-warmup-{os.getpid()}", 0)
            print(
                f"# warm-up: neo4j, {fmt_n(args.warmup)} objects, {r['wall']:.1f}s (not shown)",
                file=sys.stderr,
            )
            path.unlink()
        for n in all_sizes:
            path = Path(tmp) / f"bench-{n}.json"
            t0 = time.perf_counter()
            stream_batch(path, n, 2 * n, args.seed, args.shape, args.existing)
            print(
                f"# {fmt_n(n)} objects: batch generated in {time.perf_counter() - t0:.1f}s "
                f"({path.stat().st_size / 2**20:.0f} MiB)",
                file=sys.stderr,
                flush=True,
            )
            for store in STORES:
                if (store == "memory" and n not in args.memory_sizes) or (
                    store == "neo4j" and n not in neo4j_sizes
                ):
                    continue
                batch_id = f"bench-{args.shape}-{n}-{os.getpid()}"
                r = spawn(store, path, batch_id, args.sample)
                rows.append(r)
                print(
                    f"#   {store}: {r['wall']:.1f}s wall (after {r['waited']:.0f}s for a quiet machine)",
                    file=sys.stderr,
                    flush=True,
                )
            if n in neo4j_sizes and args.cli_rss:
                cli[n] = cli_rss(path, f"bench-cli-{n}-{os.getpid()}")
                print(
                    f"#   resolver load / run: {cli[n]['load_wall']:.1f}s / {cli[n]['run_wall']:.1f}s wall",
                    file=sys.stderr,
                    flush=True,
                )
            path.unlink()

    print(
        f"shape {args.shape}, seed {args.seed}, existing {args.existing}; links = 2 x objects, "
        "items = objects + links; seconds; total = load + validate + resolve (parse = reading the "
        "file, not in total); x floor = total / graphlib walk"
        + (
            f"; Neo4j warmed up by an untimed {fmt_n(args.warmup)}-object run"
            if neo4j_sizes and args.warmup > 0
            else ""
        )
    )
    print(table(rows))
    print()
    for line in ratios(rows):
        print(line)
    if cli:
        print()
        print("Client peak RSS of the real command on Neo4j (simulate), each in a fresh process:")
        for n, c in sorted(cli.items()):
            print(
                f"  {fmt_n(n)} objects + {fmt_n(2 * n)} links: resolver load FILE {c['load_rss']:,.0f} MiB "
                f"({c['load_wall']:.1f} s), resolver run FILE {c['run_rss']:,.0f} MiB ({c['run_wall']:.1f} s)"
            )
    profiled = [r for r in rows if r.get("profile")]
    if profiled:
        print()
        print("Neo4j PROFILE db hits per item (sample of ready objects, rolled back):")
        for r in profiled:
            p = r["profile"]
            parts = ", ".join(f"{k} {v:,.0f}" for k, v in p["per_item"].items())
            print(
                f"  {fmt_n(r['objects'])}: {p['items']} items: claim {p['claim_per_item']:,.0f}; "
                f"completion {p['completion_per_item']:,.0f} = {parts}"
            )


if __name__ == "__main__":
    main()
