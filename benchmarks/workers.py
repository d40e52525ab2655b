"""Worker processes side by side on one batch, against fewer: how much faster a batch goes when
the service's latency, not the store, bounds a run.

    python benchmarks/workers.py [--objects 4000] [--links 6000] [--processes 1,4]
                                 [--latency 0.005] [--threads 2] [--seed 7]

Neo4j as ``resolver`` finds it (NEO4J_URI/NEO4J_PASSWORD, else the local server). For each count
in ``--processes`` a generated batch (``bench-workers-...``) is loaded and validated, then that
many ``resolver run BATCH --adapter simulate:latency=L --workers T`` processes start together;
the figure runs from the first start to the last exit. Each count is printed with its time and
its speed-up over the first count; the batches are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(processes: int, batch_id: str, adapter: str, threads: int) -> float:
    """Seconds from the first ``resolver run`` started to the last one ended."""
    cmd = [sys.executable, "-m", "resolver", "run", batch_id, "--adapter", adapter, "--workers", str(threads)]
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    errors = [p.communicate()[1] for p in procs]
    seconds = time.monotonic() - t0
    failed = [
        (err.strip().splitlines() or [f"exit {p.returncode}"])[-1]
        for p, err in zip(procs, errors, strict=True)
        if p.returncode
    ]
    if failed:
        raise SystemExit(f"{len(failed)} of {processes} runs failed: {failed[0]}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=4000)
    parser.add_argument("--links", type=int, default=6000)
    parser.add_argument("--processes", default="1,4", help="comma-separated process counts")
    parser.add_argument("--latency", type=float, default=0.005, help="seconds per create (simulate)")
    parser.add_argument("--threads", type=int, default=2, help="--workers of each process")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.processes.split(",")]

    from resolver.batchfile.loader import batch_from_dict
    from resolver.config import open_store
    from resolver.generate import generate

    data = generate(args.objects, args.links, seed=args.seed)
    adapter = f"simulate:latency={args.latency}"
    store = open_store("neo4j")
    times: dict[int, float] = {}
    try:
        for n in counts:
            batch_id = f"bench-workers-{n}-{os.getpid()}"
            store.load(batch_from_dict({**data, "batchId": batch_id}))
            try:
                if store.validate(batch_id):
                    raise SystemExit("the generated batch has validation errors")
                times[n] = run(n, batch_id, adapter, args.threads)
                status = store.status(batch_id).status
                if status != "complete":
                    raise SystemExit(f"{n} process(es) left the batch {status!r}, not complete")
            finally:
                store.delete(batch_id)
            first = times[counts[0]]
            print(
                f"{n} process(es) x {args.threads} threads, {args.objects + args.links:,} items, "
                f"{adapter}: {times[n]:.1f} s ({first / times[n]:.2f}x the speed of {counts[0]})",
                flush=True,
            )
    finally:
        store.close()


if __name__ == "__main__":
    main()
