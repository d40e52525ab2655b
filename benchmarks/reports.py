"""How fast reports from services that answer later are recorded, on Neo4j.

    python benchmarks/reports.py [--objects 100000] [--per-request 1000] [--chain 200]
                                 [--latency 0.005] [--skip a,b,c]

(a) ``resolver complete BATCH --from FILE``: a batch of ``--objects`` objects with no links is
    run with ``--adapter manual --once`` (every object dispatched, awaiting its report), the
    dispatch log turned into one completion a line, then the command timed, start to exit.
(b) the HTTP bulk path: the same batch submitted to a ``resolver serve --adapter manual``, then
    ``--per-request`` completions a request (``resolver.ServiceClient.report``), one client
    thread, then two.
(c) a chain of ``--chain`` objects (each depends on the one before) submitted to a serve whose
    service answers 202 after ``--latency`` seconds and reports back at once through the reply
    URL (``tests/callback_service.py``): (end-to-end - chain x latency) / chain is what the
    resolver adds per level: dispatch, the report's request, the wake, the next claim.

Connection as ``resolver`` finds it (NEO4J_URI/NEO4J_PASSWORD, else the local server). Batches are
named ``bench-reports-<pid>-...``, serve resumes only those, and they are deleted at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resolver import ServiceClient  # noqa: E402
from resolver.config import open_store  # noqa: E402
from resolver.generate import generate, write_batch  # noqa: E402
from resolver.local.process import free_ports  # noqa: E402
from tests.callback_service import CallbackService  # noqa: E402

PREFIX = f"bench-reports-{os.getpid()}-"
TOKEN = "bench-" + os.urandom(8).hex()


def _resolver(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "resolver", *args], cwd=ROOT, capture_output=True, text=True, **kwargs
    )


class Serve:
    def __init__(self, *args: str) -> None:
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "RESOLVER_API_TOKEN": TOKEN}
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process, in stop
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "resolver",
                "serve",
                "--port",
                str(self.port),
                "--resume-prefix",
                PREFIX,
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.err,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/v1/health", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise SystemExit(f"serve did not start: {self.log()}")

    def log(self) -> str:
        self.err.seek(0)
        return self.err.read().decode(errors="replace")[-2000:]

    def post(self, path: str, body: bytes) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.err.close()


def _flat_batch(n: int) -> dict[str, Any]:
    return generate(n, 0, seed=1, existing=0.0)


def _wait_creating(client: ServiceClient, batch_id: str, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = client.status(batch_id)["objects"]["byStatus"]
        if counts.get("creating", 0) == n:
            return
        time.sleep(0.2)
    raise SystemExit(f"{batch_id}: not every object dispatched: {counts}")


def bench_cli(n: int, tmp: Path) -> dict[str, float]:
    batch_id = f"{PREFIX}a"
    path = tmp / "a.json"
    write_batch(_flat_batch(n), path)
    log = tmp / "a-dispatch.jsonl"
    t0 = time.perf_counter()
    run = _resolver(
        "run", str(path), "--batch-id", batch_id, "--adapter", "manual", "--once", "--dispatch-log", str(log)
    )
    dispatched_in = time.perf_counter() - t0
    if run.returncode != 4:
        raise SystemExit(f"run --once: exit {run.returncode}: {run.stderr}")
    items = tmp / "a-items.jsonl"
    with log.open() as src, items.open("w") as out:
        for line in src:
            m = json.loads(line)
            if m["kind"] == "create-object":
                out.write(
                    json.dumps({"objectId": m["objectId"], "identifierIds": {"id": f"X-{m['objectId']}"}})
                    + "\n"
                )
    t0 = time.perf_counter()
    done = _resolver("complete", batch_id, "--from", str(items))
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"complete --from: exit {done.returncode}: {done.stderr}")
    return {"objects": n, "dispatch_s": dispatched_in, "complete_s": took, "per_s": n / took}


def bench_http(n: int, per_request: int) -> dict[str, float]:
    serve = Serve("--adapter", "manual")
    out: dict[str, float] = {}
    try:
        client = ServiceClient(serve.url, TOKEN, timeout=600)
        for threads in (1, 2):
            batch_id = f"{PREFIX}b{threads}"
            body = json.dumps({**_flat_batch(n), "batchId": batch_id}).encode()
            t0 = time.perf_counter()
            serve.post("/v1/batches", body)
            out[f"submit_s_{threads}"] = time.perf_counter() - t0
            _wait_creating(client, batch_id, n)
            chunks = [
                [
                    {"objectId": f"o{i}", "identifierIds": {"id": f"X-{i}"}}
                    for i in range(s, min(n, s + per_request))
                ]
                for s in range(0, n, per_request)
            ]
            spans: list[float] = []

            def work(
                part: list[list[dict[str, Any]]], batch_id: str = batch_id, spans: list[float] = spans
            ) -> None:
                for chunk in part:
                    t = time.perf_counter()
                    client.report(batch_id, "completion", chunk)
                    spans.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            workers = [threading.Thread(target=work, args=(chunks[i::threads],)) for i in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            took = time.perf_counter() - t0
            deadline = time.monotonic() + 60  # the runner, woken, finishes the batch
            while client.status(batch_id)["status"] != "complete":
                if time.monotonic() > deadline:
                    raise SystemExit(f"{batch_id} did not complete: {client.status(batch_id)}")
                time.sleep(0.1)
            spans.sort()
            out[f"per_s_{threads}"] = n / took
            out[f"request_ms_median_{threads}"] = 1000 * spans[len(spans) // 2]
            out[f"request_ms_p95_{threads}"] = 1000 * spans[int(len(spans) * 0.95)]
        client.close()
    finally:
        serve.stop()
    return out


def bench_chain(levels: int, latency: float) -> dict[str, float]:
    batch_id = f"{PREFIX}c"
    batch = {
        "batchId": batch_id,
        "linkTags": {"next": {"childType": "t", "parentType": "t"}},
        "objects": [{"objectId": f"o{i}", "objectType": "t"} for i in range(levels)],
        "links": [
            {
                "linkId": f"l{i}",
                "objectId": f"o{i}",
                "referenceId": f"o{i - 1}",
                "linkTag": "next",
                "linkType": "dependent",
            }
            for i in range(1, levels)
        ],
    }
    with CallbackService(TOKEN, delay=latency, reporters=2) as svc:
        serve = Serve("--adapter", svc.url)
        try:
            t0 = time.perf_counter()
            serve.post("/v1/batches", json.dumps(batch).encode())
            deadline = time.monotonic() + 600
            while not any(r.message.get("kind") == "batch-complete" for r in list(svc.requests)):
                if time.monotonic() > deadline:
                    raise SystemExit(f"the chain did not finish: {serve.log()}")
                time.sleep(0.0005)
            took = time.perf_counter() - t0
        finally:
            serve.stop()
        creates = [r for r in svc.requests if r.message.get("kind") == "create-object"]
        # between the service's answer to one level and its receiving the next level's create
        gaps = sorted(b.at - a.at for a, b in itertools.pairwise(creates))
        return {
            "levels": levels,
            "end_to_end_s": took,
            "per_level_ms": 1000 * (took - levels * latency) / levels,
            "report_request_ms": 1000 * svc.report_seconds / max(1, svc.report_requests),
            "create_to_create_ms_median": 1000 * gaps[len(gaps) // 2],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--per-request", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.005)
    parser.add_argument("--skip", default="")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    store = open_store("neo4j")
    print(f"store: {store.describe()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if "a" not in skip:
                a = bench_cli(args.objects, Path(tmp))
                print(
                    f"(a) resolver complete --from, {a['objects']:,} objects: {a['complete_s']:.2f}s, "
                    f"{a['per_s']:,.0f} completions/s (target >= 20,000/s; dispatching them took "
                    f"{a['dispatch_s']:.1f}s)"
                )
            if "b" not in skip:
                b = bench_http(args.objects, args.per_request)
                for t in (1, 2):
                    print(
                        f"(b) HTTP bulk, {args.per_request} a request, {t} client thread(s): "
                        f"{b[f'per_s_{t}']:,.0f} completions/s (target >= 5,000/s); request median "
                        f"{b[f'request_ms_median_{t}']:.0f} ms, p95 {b[f'request_ms_p95_{t}']:.0f} ms; "
                        f"the submit of {args.objects:,} objects took {b[f'submit_s_{t}']:.1f}s"
                    )
            if "c" not in skip:
                c = bench_chain(args.chain, args.latency)
                print(
                    f"(c) chain of {c['levels']}, service latency {1000 * args.latency:.0f} ms: "
                    f"{c['end_to_end_s']:.2f}s end to end, {c['per_level_ms']:.1f} ms per level added "
                    f"(target <= 20 ms); a report request {c['report_request_ms']:.1f} ms, "
                    f"create to next create {c['create_to_create_ms_median']:.1f} ms (median)"
                )
    finally:
        for batch_id in store.batch_ids():
            if batch_id.startswith(PREFIX):
                store.delete(batch_id)
        store.close()


if __name__ == "__main__":
    main()
