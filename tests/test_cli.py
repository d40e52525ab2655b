"""The command line as docs/interface.md (section 5) names it, through real processes on Neo4j."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from resolver.local.process import free_ports

from .conftest import EXAMPLES, ROOT, Server, run_cli


def test_manual_flow(neo4j_server: Server, batch_id: str, tmp_path: Path) -> None:
    env = neo4j_server.env()
    log = tmp_path / "d.jsonl"
    first = run_cli(
        "run",
        str(EXAMPLES / "spring-catalog.json"),
        "--batch-id",
        batch_id,
        "--adapter",
        "manual",
        "--once",
        "--dispatch-log",
        str(log),
        env=env,
    )
    assert first.code == 4, first.err
    assert first.out.splitlines()[0] == batch_id
    # never dispatched: refused, exit 1, says the status
    early = run_cli("complete", batch_id, "shirt-red", "--id", "id=x", env=env)
    assert early.code == 1 and "status: waiting" in early.err and len(early.err.strip().splitlines()) == 1
    done = run_cli("complete", batch_id, "shirt", "--id", "id=S-1", "--id", "sku=SH-1", env=env)
    assert done.code == 0, done.err
    again = run_cli("complete", batch_id, "shirt", "--id", "id=S-2", env=env)
    assert again.code == 0 and "already complete" in again.out
    second = run_cli("run", batch_id, "--adapter", "manual", "--once", "--dispatch-log", str(log), env=env)
    assert second.code == 4
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [m["objectId"] for m in lines] == ["shirt", "shirt-red"]
    assert lines[1]["parents"][0]["identifierIds"] == {"id": "S-1", "sku": "SH-1"}
    run_cli("complete", batch_id, "shirt-red", "--id", "id=R-1", env=env)
    st = run_cli("status", batch_id, "--json", env=env).json()
    assert st["status"] == "complete"
    assert st["objects"] == {"total": 3, "byStatus": {"complete": 3}}
    assert st["links"] == {"total": 1, "byStatus": {"complete": 1}}
    assert st["errors"] == [] and "objectList" not in st
    third = run_cli("run", batch_id, "--adapter", "manual", "--once", env=env)
    assert third.code == 0


def test_status_detail_json_shape(neo4j_server: Server, batch_id: str) -> None:
    env = neo4j_server.env()
    assert run_cli("run", str(EXAMPLES / "spring-catalog.json"), "--batch-id", batch_id, env=env).code == 0
    st = run_cli("status", batch_id, "--json", "--detail", env=env).json()
    objects = {o["objectId"]: o for o in st["objectList"]}
    assert objects["shirt"]["identifierIds"] == {"id": "sim-shirt"}
    assert objects["acme"]["identifierIds"] == {"brandId": "42"}
    assert {o["status"] for o in objects.values()} == {"complete"}
    assert st["linkList"][0]["linkId"] == "l1" and st["linkList"][0]["status"] == "complete"
    human = run_cli("status", batch_id, "--detail", env=env)
    assert human.code == 0 and "complete" in human.out and "shirt-red" in human.out


def test_exit_codes_for_unknowns(neo4j_server: Server, batch_id: str) -> None:
    env = neo4j_server.env()
    assert run_cli("status", "no-such-batch", env=env).code == 2
    assert run_cli("run", "no-such-batch", env=env).code == 2
    assert run_cli("complete", "no-such-batch", "x", "--id", "a=b", env=env).code == 2
    assert run_cli("load", str(EXAMPLES / "spring-catalog.json"), "--batch-id", batch_id, env=env).code == 0
    unknown = run_cli("complete", batch_id, "ghost", "--id", "a=b", env=env)
    assert unknown.code == 2 and "no object 'ghost'" in unknown.err
    link = run_cli("fail", batch_id, "--link", "ghost", "--reason", "x", env=env)
    assert link.code == 2
    taken = run_cli("load", str(EXAMPLES / "spring-catalog.json"), "--batch-id", batch_id, env=env)
    assert taken.code == 2 and "already exists" in taken.err
    assert (
        run_cli(
            "load", str(EXAMPLES / "spring-catalog.json"), "--batch-id", batch_id, "--replace", env=env
        ).code
        == 0
    )


def test_validation_errors_exit_1_and_are_kept(neo4j_server: Server, batch_id: str, tmp_path: Path) -> None:
    data = json.loads((EXAMPLES / "spring-catalog.json").read_text())
    data["links"][0]["referenceId"] = "sku:missing"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    env = neo4j_server.env()
    loaded = run_cli("load", str(path), "--batch-id", batch_id, env=env)
    assert loaded.code == 1 and loaded.out.strip() == batch_id
    assert "unknown-reference" in loaded.err
    st = run_cli("status", batch_id, "--json", env=env).json()
    assert st["status"] == "error" and st["errors"][0]["code"] == "unknown-reference"
    assert run_cli("run", batch_id, env=env).code == 1


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = run_cli("status", "x", env={"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "x"})
    assert result.code == 3
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert "cannot reach Neo4j at bolt://127.0.0.1:1" in result.err


def test_wrong_password_is_one_line(neo4j_server: Server) -> None:
    result = run_cli("status", "x", env={**neo4j_server.env(), "NEO4J_PASSWORD": "wrong-password"})
    assert result.code == 3 and "refused the credentials" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_two_workers_dispatch_each_item_once(neo4j_server: Server, batch_id: str, tmp_path: Path) -> None:
    from resolver.generate import generate, write_batch

    path = tmp_path / "gen.json"
    write_batch(generate(400, 800, seed=3, batch_id=batch_id), path)
    env = neo4j_server.env()
    assert run_cli("load", str(path), env=env).code == 0
    logs = [tmp_path / f"w{i}.jsonl" for i in range(2)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "resolver",
                "run",
                batch_id,
                "--adapter",
                "simulate:latency=0.002",
                "--workers",
                "4",
                "--dispatch-log",
                str(log),
            ],
            env={**_base_env(), **env},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for log in logs
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 0], [p.stderr.read() for p in procs if p.stderr]
    messages = [json.loads(x) for log in logs for x in log.read_text().splitlines()]
    creates = [m["idempotencyKey"] for m in messages if m["kind"] != "batch-complete"]
    assert len(creates) == len(set(creates))
    per_worker = [sum(1 for x in log.read_text().splitlines() if "create-" in x) for log in logs]
    assert min(per_worker) > 0, f"one worker did all the work: {per_worker}"
    assert [m["kind"] for m in messages].count("batch-complete") == 1
    st = run_cli("status", batch_id, "--json", env=env).json()
    assert st["status"] == "complete"
    assert len(creates) == st["objects"]["byStatus"]["complete"] - _existing(path) + _dispatched_links(path)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}


def _existing(path: Path) -> int:
    return sum(1 for o in json.loads(path.read_text())["objects"] if "identifierIds" in o)


def _dispatched_links(path: Path) -> int:
    links = json.loads(path.read_text())["links"]
    return sum(1 for lk in links if lk["linkType"] == "independent" or lk["separateDependentLinkCreate"])


def test_schema_command_prints_json_schema() -> None:
    result = run_cli("schema", env={"RESOLVER_STORE": "memory"})
    schema = json.loads(result.out)
    assert result.code == 0 and "objects" in schema["properties"] and "objects" in schema["required"]


def test_memory_store_load_matches_neo4j(neo4j_server: Server, batch_id: str) -> None:
    for env in ({"RESOLVER_STORE": "memory"}, neo4j_server.env()):
        result = run_cli("load", str(EXAMPLES / "catalog.json"), "--batch-id", batch_id, env=env)
        assert (result.code, result.out.strip()) == (0, batch_id)


def test_connection_options_after_the_command(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    result = run_cli(
        "run", str(EXAMPLES / "spring-catalog.json"), "--store", "memory", "--dispatch-log", str(log)
    )
    assert result.code == 0, result.err
    assert len(log.read_text().splitlines()) == 3
    assert run_cli("status", "nope", "--store=memory").code == 2
    bad = run_cli("status", "x", "--uri", "bolt://127.0.0.1:1", "--password", "p")
    assert bad.code == 3 and "cannot reach Neo4j at bolt://127.0.0.1:1" in bad.err


def test_fail_reports(neo4j_server: Server, batch_id: str) -> None:
    env = neo4j_server.env()
    assert (
        run_cli(
            "run",
            str(EXAMPLES / "spring-catalog.json"),
            "--batch-id",
            batch_id,
            "--adapter",
            "manual",
            "--once",
            env=env,
        ).code
        == 4
    )
    first = run_cli("fail", batch_id, "shirt", "--reason", "out of stock", env=env)
    assert first.code == 0 and "object shirt: failed" in first.out
    assert "batch-complete" in first.out  # its child is blocked: nothing is left to do
    again = run_cli("fail", batch_id, "shirt", "--reason", "out of stock", env=env)
    assert again.code == 0 and "already failed" in again.out
    blocked = run_cli("fail", batch_id, "shirt-red", "--reason", "x", env=env)
    assert blocked.code == 1 and "status: blocked" in blocked.err
    st = run_cli("status", batch_id, "--json", env=env).json()
    assert st["status"] == "failed" and st["objects"]["byStatus"] == {
        "blocked": 1,
        "complete": 1,
        "failed": 1,
    }


def test_browse_names_a_way_to_the_style_that_works(
    neo4j_server: Server, batch_id: str, assets_port: int
) -> None:
    env = neo4j_server.env()
    assert run_cli("load", str(EXAMPLES / "spring-catalog.json"), "--batch-id", batch_id, env=env).code == 0
    served = run_cli("browse", batch_id, env={**env, "RESOLVER_ASSETS_PORT": str(assets_port)})
    assert served.code == 0, served.err
    assert f":style http://127.0.0.1:{assets_port}/resolver.grass" in served.out
    assert f":param batchId => '{batch_id}'" in served.out
    (idle,) = free_ports(1)
    unserved = run_cli("browse", batch_id, env={**env, "RESOLVER_ASSETS_PORT": str(idle)})
    assert unserved.code == 0, unserved.err
    hint = next(line for line in unserved.out.splitlines() if "python -m " in line)
    module = hint.split("python -m ", 1)[1].split()[0]
    # the command it names starts the server a user needs
    started = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, timeout=60)
    assert started.returncode == 0, started.stderr
