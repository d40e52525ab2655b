"""The broker end to end: one generated batch through Neo4j, NATS JetStream, the resolver and
``resolver worker`` processes, against the same batch resolved with ``simulate``, in one run.

    python benchmarks/broker.py [--objects 100000] [--links 200000] [--workers 4]
                                [--shape layered] [--seed 1] [--handler simulate] [--batch 100]

Neo4j as ``resolver`` finds it (NEO4J_URI/NEO4J_PASSWORD, else the local server). NATS: the one
RESOLVER_NATS_URL names (with RESOLVER_NATS_USER/_PASSWORD), else a local server started in a
temporary home on free ports and stopped at the end. Each batch (``bench-broker-...``) is loaded
and validated first (timed, printed apart); the figure is the run, from its start to the
delivered batch-complete, and items/s counts objects + links.

Each run is a process of its own (this script with a hidden ``--one``), instrumented: time in
``send_many`` (publishing the creates and awaiting their PubAcks), in recording the answers (the
answer thread's sink), and in each store call; the workers' and NATS's CPU seconds are read from
the kernel. The workers are real ``resolver worker`` processes with a handler that answers at
once (``simulate`` by default). Batches are deleted afterwards, streams are left under a prefix
of their own (``bench<hex>``) and go with a temporary server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_THREADS = {"MainThread": "engine", "resolver-record": "recorder", "resolver-nats-answers": "answers"}
STORE_CALLS = ("claim", "accept", "complete_objects", "complete_links", "progress", "missing", "batch_status")


# --- one run, in its own process ----------------------------------------------------------------


def run_one(mode: str, batch_id: str, url: str) -> dict[str, Any]:
    from resolver.adapters import make_adapter
    from resolver.config import open_store
    from resolver.engine import resolve
    from resolver.store.neo4j import Neo4jStore

    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    lock = threading.Lock()

    def timed(owner: Any, name: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                thread = threading.current_thread().name
                where = _THREADS.get(thread.split("_")[0], "pool")
                with lock:
                    entry = spent[f"{where}:{label}"]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - t

        setattr(owner, name, wrapper)

    for name in STORE_CALLS:
        timed(Neo4jStore, name, f"store.{name}")
    if mode == "nats":
        from resolver.adapters.brokers import nats_answers, nats_client

        timed(nats_client.LoopThread, "run", "nats (bridge waits)")
        timed(nats_answers.AnswerListener, "_record", "record answers (sink)")
        from resolver.adapters.brokers.nats import NatsAdapter

        timed(NatsAdapter, "send_many", "send_many (publish + PubAcks)")
    adapter = make_adapter("simulate" if mode == "simulate" else url)
    store = open_store("neo4j")
    try:
        t0 = time.perf_counter()
        result = resolve(store, batch_id, adapter)
        seconds = time.perf_counter() - t0
    finally:
        adapter.close()
        store.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "mode": mode,
        "status": result.status,
        "dispatched": result.dispatched,
        "run": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "spent": {k: v for k, v in sorted(spent.items(), key=lambda kv: -kv[1][1])},
    }


# --- the driver ---------------------------------------------------------------------------------


def _cpu_of(pid: int) -> float:
    """utime + stime of a live process, seconds (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _nats(tmp: Path) -> tuple[dict[str, str], Callable[[], object], int | None]:
    if os.environ.get("RESOLVER_NATS_URL"):
        env = {k: os.environ[k] for k in os.environ if k.startswith("RESOLVER_NATS_")}
        return env, lambda: None, None
    from resolver.local import nats as local_nats
    from resolver.local.process import free_ports

    port, monitor = free_ports(2)
    server = local_nats.start(tmp / "nats", port=port, monitor_port=monitor, echo=lambda line: None)
    return server.env(), lambda: local_nats.stop(tmp / "nats"), server.pid


def _load(path: Path, batch_id: str) -> tuple[float, int, int]:
    from resolver.batchfile.loader import load_batch
    from resolver.config import open_store

    batch = load_batch(str(path), batch_id)
    store = open_store("neo4j")
    try:
        store.ensure_schema()  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        store.load(batch, replace=True)
        errors = store.validate(batch_id)
        if errors:
            raise SystemExit(f"generated batch has {len(errors)} validation errors")
        return time.perf_counter() - t0, len(batch.objects), len(batch.links)
    finally:
        store.close()


def _delete(batch_id: str) -> None:
    from resolver.config import open_store

    store = open_store("neo4j")
    try:
        store.delete(batch_id)
    finally:
        store.close()


def _child(mode: str, batch_id: str, url: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--one", mode, batch_id, url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=None)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--shape", default="layered")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--handler", default="simulate")
    parser.add_argument("--batch", type=int, default=100, help="the workers' fetch size")
    parser.add_argument("--skip-simulate", action="store_true")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    from resolver.generate import generate, write_batch

    links = args.links if args.links is not None else 2 * args.objects
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="resolver-broker-bench-") as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "batch.json"
        write_batch(generate(args.objects, links, args.seed, args.shape), path)
        nats_env, stop_nats, nats_pid = _nats(tmp)
        env = {**os.environ, **nats_env, "RESOLVER_NATS_PREFIX": f"bench{uuid.uuid4().hex[:8]}"}
        url = nats_env["RESOLVER_NATS_URL"]
        try:
            for mode in ("simulate", "nats"):
                if mode == "simulate" and args.skip_simulate:
                    continue
                batch_id = f"bench-broker-{mode}-{uuid.uuid4().hex[:6]}"
                load_s, n_objects, n_links = _load(path, batch_id)
                workers: list[subprocess.Popen[bytes]] = []
                if mode == "nats":
                    handler = ["--handler", args.handler, "--batch", str(args.batch)]
                    workers = [
                        subprocess.Popen(
                            [sys.executable, "-m", "resolver", "worker", url, *handler],
                            env=env,
                            cwd=ROOT,
                            stderr=subprocess.DEVNULL,
                        )
                        for _ in range(args.workers)
                    ]
                    time.sleep(2)  # started and bound, as long-running workers would be
                nats_before = _cpu_of(nats_pid) if nats_pid else 0.0
                try:
                    row = _child(mode, batch_id, url, env)
                finally:
                    worker_cpu = 0.0
                    for w in workers:
                        w.terminate()
                    for w in workers:
                        _, _, usage = os.wait4(w.pid, 0)
                        worker_cpu += usage.ru_utime + usage.ru_stime
                        w.returncode = 0
                    _delete(batch_id)
                row.update(
                    objects=n_objects,
                    links=n_links,
                    load=load_s,
                    workers_cpu=worker_cpu,
                    nats_cpu=(_cpu_of(nats_pid) - nats_before) if nats_pid else None,
                )
                rows.append(row)
        finally:
            stop_nats()
    _print(rows, args)


def _print(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.objects:,} objects, {rows[0]['links']:,} links ({args.shape}, seed {args.seed}); "
        f"nats: {args.workers} workers, handler {args.handler}, fetch {args.batch}\n"
    )
    print("| adapter | items | load s | run s | items/s | resolver CPU s | workers CPU s | NATS CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        items = r["objects"] + r["links"]
        nats_cpu = "-" if r["nats_cpu"] is None else f"{r['nats_cpu']:.1f}"
        workers_cpu = f"{r['workers_cpu']:.1f}" if r["mode"] == "nats" else "-"
        print(
            f"| {r['mode']} | {items:,} | {r['load']:.1f} | {r['run']:.1f} | {items / r['run']:,.0f} | "
            f"{r['cpu']:.1f} | {workers_cpu} | {nats_cpu} |"
        )
    for r in rows:
        print(f"\nwhere the {r['mode']} run's time went (thread:call, calls, seconds; threads overlap):")
        for key, (n, seconds) in r["spent"].items():
            print(f"  {key:45s} {int(n):6d} {seconds:8.2f}")


if __name__ == "__main__":
    main()
