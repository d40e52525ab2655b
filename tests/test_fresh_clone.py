"""The README's first command works on a fresh clone: the committed HEAD, cloned into an empty
folder, runs ``make demo`` to the end. It uses the test session's Neo4j (through NEO4J_URI), so no
second server starts; everything else (the venv, the folders the demo writes) the clone makes
for itself, as a newcomer's would. ``make demo-nats`` then runs in the same clone, with its own
local NATS on free ports, stopped at the end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from resolver.local.process import free_ports

from .conftest import ROOT, Server


@pytest.mark.neo4j
def test_make_demo_on_a_fresh_clone(neo4j_server: Server, tmp_path: Path) -> None:
    clone = tmp_path / "resolver"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    # MAKE* too: under CI's own make, a sub-make would print "Entering directory" lines of its own
    dropped = ("NEO4J_", "RESOLVER_", "VIRTUAL_ENV", "MAKE", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(neo4j_server.env())
    done = subprocess.run(
        ["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "batch catalog: complete" in output
    assert (clone / "out" / "demo-dispatch.jsonl").stat().st_size > 0

    port, monitor = free_ports(2)
    env.update(RESOLVER_NATS_PORT=str(port), RESOLVER_NATS_MONITOR_PORT=str(monitor))
    make: dict[str, Any] = {"cwd": clone, "env": env, "capture_output": True, "text": True, "check": False}
    try:
        done = subprocess.run(["make", "demo-nats"], timeout=300, **make)
    finally:
        subprocess.run(["make", "nats-stop"], timeout=60, **make)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    # the last thing it prints: the status of the batch, then its table of counts
    printed = [line.strip() for line in done.stdout.splitlines() if not line.startswith("make")]
    status = printed[max(i for i, line in enumerate(printed) if line.endswith(" status catalog-nats")) + 1 :]
    assert status[0] == "batch catalog-nats: complete", output[-3000:]
    assert "Traceback" not in output
