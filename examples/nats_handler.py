"""A tiny service for ``resolver worker``: it "creates" every object by answering an id made
from its idempotencyKey (so a repeated create gets the same id), creates links without an
answer of their own, and says when a batch is complete.

    resolver worker nats://127.0.0.1:4222 --handler python:examples.nats_handler:create
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Any


def create(message: dict[str, Any]) -> dict[str, str] | None:
    if message["kind"] == "batch-complete":
        print(
            f"worker {os.getpid()}: batch {message['batchId']} is {message['status']}",
            file=sys.stderr,
            flush=True,
        )
        return None
    if message["kind"] == "create-link":
        return None
    digest = hashlib.sha256(message["idempotencyKey"].encode()).hexdigest()[:12]
    return {"id": f"{message['objectType']}-{digest}"}
