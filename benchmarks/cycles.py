"""Cycle detection on Neo4j at scale: the shipped way against two pure-Cypher ways.

    python benchmarks/cycles.py [--objects 100000] [--cycles 3] [--shape layered] [--timeout 60]

On one generated batch (N objects, 2N links, ``--shape``) with ``--cycles`` dependent cycles of
50 objects spliced in, it times:

- ``networkx``: the shipped check: one query streams the dependent edges that could lie on a
  cycle (``dependent_edges.cypher``), then ``validation.find_cycles`` (Kahn peel, networkx SCCs);
- ``cypher-peel``: Kahn's algorithm in Cypher (in-degree counters on the nodes, one peeling
  query per round until nothing peels), then ``shortestPath`` to name one cycle per leftover edge;
- ``cypher-varlength``: ``MATCH p = (a)-[:DEPENDS_ON*]->(a)`` per batch, with a transaction
  timeout, since enumerating paths is exponential on a DAG with shared ancestry.

Each prints seconds and what it found. The batch is named ``bench-cycles-...`` and deleted.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import neo4j

from resolver.batchfile.loader import batch_from_dict
from resolver.config import resolve_connection
from resolver.generate import generate
from resolver.store.neo4j import Neo4jStore
from resolver.store.queries import query
from resolver.validation import find_cycles

PEEL_INIT = """
MATCH (o:PendingObject) WHERE o.batchId = $batchId AND o.status IS NOT NULL
SET o._deg = COUNT { (o)<-[:DEPENDS_ON]-() }, o._alive = true
"""
PEEL_ROUND = """
MATCH (o:PendingObject) WHERE o.batchId = $batchId AND o.status IS NOT NULL
  AND o._alive AND o._deg = 0
SET o._alive = false
WITH o
OPTIONAL MATCH (o)-[:DEPENDS_ON]->(p:PendingObject)
WITH o, p, count(*) AS n
FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | SET p._deg = p._deg - n)
RETURN count(DISTINCT o) AS peeled
"""
PEEL_NAME = """
MATCH (a:PendingObject)-[:DEPENDS_ON]->(b:PendingObject)
WHERE a.batchId = $batchId AND a.status IS NOT NULL AND a._alive AND b._alive
MATCH p = shortestPath((b)-[:DEPENDS_ON*]->(a))
RETURN [n IN nodes(p) | n.objectId] AS path
LIMIT 1000
"""
PEEL_CLEAN = """
MATCH (o:PendingObject) WHERE o.batchId = $batchId AND o.status IS NOT NULL
REMOVE o._deg, o._alive
"""
VARLENGTH = """
MATCH (a:PendingObject) WHERE a.batchId = $batchId AND a.status IS NOT NULL
MATCH p = (a)-[:DEPENDS_ON*]->(a)
RETURN [n IN nodes(p) | n.objectId] AS cycle
LIMIT 1
"""


def with_cycles(n: int, cycles: int, batch_id: str, shape: str) -> dict[str, Any]:
    data = generate(n, 2 * n, seed=7, shape=shape, batch_id=batch_id)
    tag = {"childType": "loop", "parentType": "loop"}
    data["linkTags"]["loop"] = tag
    for c in range(cycles):
        ring = [f"cyc{c}-{i}" for i in range(50)]
        data["objects"] += [{"objectId": oid, "objectType": "loop"} for oid in ring]
        data["links"] += [
            {
                "linkId": f"cyc{c}-l{i}",
                "objectId": ring[i],
                "referenceId": ring[(i + 1) % 50],
                "linkTag": "loop",
                "linkType": "dependent",
            }
            for i in range(50)
        ]
    return data


def timed(label: str, fn: Any) -> None:
    t0 = time.perf_counter()
    try:
        found = fn()
        print(f"{label:18} {time.perf_counter() - t0:8.2f} s   {found}")
    except neo4j.exceptions.Neo4jError as exc:
        print(f"{label:18} {time.perf_counter() - t0:8.2f} s   gave up: {exc.code}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--shape", default="layered")
    args = parser.parse_args()
    conn = resolve_connection()
    store = Neo4jStore(conn.uri, conn.username, conn.password, conn.database)
    batch_id = f"bench-cycles-{uuid.uuid4().hex[:6]}"
    store.load(batch_from_dict(with_cycles(args.objects, args.cycles, batch_id, args.shape)))
    driver = neo4j.GraphDatabase.driver(conn.uri, auth=(conn.username, conn.password))
    print(
        f"{args.shape}: {args.objects} objects, {2 * args.objects} links, "
        f"{args.cycles} cycles of 50 spliced in"
    )
    try:

        def shipped() -> str:
            with driver.session(database=conn.database) as s:
                rows = s.run(query("dependent_edges").text, batchId=batch_id).single()
                edges = rows["rows"] if rows else []
            return f"{len(find_cycles(tuple(e) for e in edges))} cycles, {len(edges)} edges pulled"

        def peel() -> str:
            rounds = 0
            with driver.session(database=conn.database) as s:
                s.run(PEEL_INIT, batchId=batch_id).consume()
                while s.run(PEEL_ROUND, batchId=batch_id).single(strict=True)["peeled"]:
                    rounds += 1
                paths = [r["path"] for r in s.run(PEEL_NAME, batchId=batch_id)]
                s.run(PEEL_CLEAN, batchId=batch_id).consume()
            return f"{rounds} peeling rounds, {len({frozenset(p) for p in paths})} distinct cycles named"

        def varlength() -> str:
            with driver.session(database=conn.database) as s:
                tx = s.begin_transaction(timeout=args.timeout)
                row = tx.run(VARLENGTH, batchId=batch_id).single()
                tx.rollback()
            return f"first cycle: {len(row['cycle']) - 1} objects" if row else "no cycle"

        timed("networkx", shipped)
        timed("cypher-peel", peel)
        timed("cypher-varlength", varlength)
    finally:
        driver.close()
        store.delete(batch_id)
        store.close()


if __name__ == "__main__":
    main()
