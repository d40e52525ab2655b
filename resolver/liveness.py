"""Who holds a claim: a worker's id, and whether that worker is known to be gone.

A worker id is ``HOST:PID:MACHINE:NONCE``. MACHINE names this boot of this kernel and this process
namespace (``/proc/sys/kernel/random/boot_id`` and ``/proc/self/ns/pid``): two containers on one
host, or two hosts that share a name, never share it, so a PID is only ever read where it means
the same process. A run that starts finds the claims of workers of its own MACHINE whose process is
gone (SIGKILL, a crash, the machine's OOM killer) and takes them back at once, instead of waiting
for their leases to run out. Anything it cannot be sure of (another machine, an id of another
form, a PID that exists, a system without ``/proc``) is left to the lease.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from functools import cache
from pathlib import Path

__all__ = ["is_gone", "worker_id"]


@cache
def _machine() -> str | None:
    """This boot and PID namespace, in 8 hex digits; None where it cannot be told."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return hashlib.sha256(f"{boot}/{namespace}".encode()).hexdigest()[:8]


def worker_id() -> str:
    """A new worker's id: unique to this engine, readable by a person (host and PID first)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_machine() or '-'}:{uuid.uuid4().hex[:6]}"


def is_gone(worker: str) -> bool:
    """Whether ``worker`` was a process of this machine that no longer runs (or is a zombie,
    dead and not yet reaped). False whenever that cannot be told for sure."""
    parts = worker.split(":")
    machine = _machine()
    if len(parts) != 4 or machine is None or parts[2] != machine or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return True
    except OSError:
        return False
    # the state is the field after the command, whose parentheses may hold anything
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]
