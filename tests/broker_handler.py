"""The service behind the broker tests' ``resolver worker`` processes: a deduplicating creator
that records every call it gets.

``create`` is the ``--handler python:tests.broker_handler:create``. The service's state lives in
the folder named by RESOLVER_TEST_SERVICE_DIR, shared by every worker process:

- ``created/<sha256 of the key>``: made once per idempotencyKey with a hard link (atomic: the
  first call of a key wins, on any process), holding the identifierIds' ``id`` it answered;
  a repeated key gets that same id back, as a real service that deduplicates would answer;
- ``calls-<pid>.jsonl``: one line per call, ``{"key", "first", "answer", "message"}``;
- ``notices-<pid>.jsonl``: one line per batch-complete notice.

RESOLVER_TEST_SERVICE_DELAY (seconds) slows each create down, so a fault can land mid-batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def _home() -> Path:
    return Path(os.environ["RESOLVER_TEST_SERVICE_DIR"])


def _append(name: str, record: dict[str, Any]) -> None:
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock, open(_home() / f"{name}-{os.getpid()}.jsonl", "a", encoding="utf-8") as out:
        out.write(line)


def create(message: dict[str, Any]) -> dict[str, str] | None:
    if message["kind"] == "batch-complete":
        _append("notices", message)
        return None
    delay = float(os.environ.get("RESOLVER_TEST_SERVICE_DELAY") or 0)
    if delay:
        time.sleep(delay)
    key = message["idempotencyKey"]
    home = _home()
    final = home / "created" / hashlib.sha256(key.encode()).hexdigest()
    candidate = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    scratch = home / "tmp" / uuid.uuid4().hex
    scratch.write_text(candidate, encoding="utf-8")
    try:
        os.link(scratch, final)
        first = True
    except FileExistsError:
        first = False
        candidate = final.read_text(encoding="utf-8")
    finally:
        scratch.unlink()
    _append("calls", {"key": key, "first": first, "answer": candidate, "message": message})
    return {"id": candidate} if message["kind"] == "create-object" else None


def prepare(home: Path) -> None:
    """The folders a fresh service needs."""
    (home / "created").mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)


def calls(home: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for p in sorted(home.glob("calls-*.jsonl")) for line in p.read_text().splitlines()
    ]


def notices(home: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for p in sorted(home.glob("notices-*.jsonl")) for line in p.read_text().splitlines()
    ]


def created_count(home: Path) -> int:
    try:
        return len(os.listdir(home / "created"))
    except FileNotFoundError:
        return 0
