"""What ``make demo`` prints last: where to look at the batch in Neo4j Browser."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(example: str) -> None:
    batch_id = json.loads(Path(example).read_text(encoding="utf-8"))["batchId"]
    from . import neo4j_local

    server = None if os.environ.get("NEO4J_URI") else neo4j_local.running()
    print()
    if server is not None:
        print(f"Neo4j Browser: {server.browser_url}")
        print(f"  connect URL {server.uri}, user {server.username}, password {server.password}")
    else:
        print(f"Neo4j Browser: the one of {os.environ.get('NEO4J_URI')} (login from NEO4J_USERNAME/PASSWORD)")
    print("  then run this query to see the batch:")
    print(f"  MATCH (o:PendingObject {{batchId: '{batch_id}'}}) OPTIONAL MATCH (o)-[l]->(p) RETURN o, l, p")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/catalog.json")
