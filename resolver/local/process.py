"""Process and file helpers shared by the local servers (``resolver.local.neo4j``, ``resolver.local.nats``).

Each server runs detached from the caller, named by a pid file in its home; these helpers decide
whether that pid is still our server, stop it, and keep the home's secrets in owner-only files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import LocalServerError

__all__ = [
    "Ports",
    "file_lock",
    "free_ports",
    "live_pid",
    "make_private",
    "pid_alive",
    "port_open",
    "read_text",
    "terminate",
    "write_private",
]


def read_text(path: Path) -> str:
    """The file's text without surrounding whitespace, or "" when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically: a reader sees the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # exactly 0600 whatever the umask says, and for an old tmp file
        f.write(text)
    os.replace(tmp, path)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_ports(n: int) -> list[int]:
    """n ports nothing listens on now (bound together, so they differ), for servers of tests and
    benchmarks."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def pid_alive(pid: int, marker: str) -> bool:
    """Whether ``pid`` runs and, where /proc shows it, has ``marker`` as one of its arguments."""
    # A server we started ourselves lingers as a zombie after it dies, and kill(0) still sees it.
    with contextlib.suppress(OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists but is someone else's; the command line below decides
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    # A stale pid file may name a pid that now belongs to an unrelated process.
    return os.fsencode(marker) in args


def live_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and carries ``marker``, else None."""
    raw = read_text(pid_file)
    return int(raw) if raw.isdigit() and pid_alive(int(raw), marker) else None


def terminate(pid: int, alive: Callable[[], bool], timeout: float, kill_after: float = 10.0) -> bool:
    """SIGTERM ``pid``, SIGKILL it after ``timeout`` seconds; True once ``alive()`` says it is gone.

    False if it survived SIGKILL for ``kill_after`` seconds; PermissionError if it is not ours to
    signal.
    """
    try:
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, kill_after)):
            os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not alive():
                break
        else:
            return False
    except ProcessLookupError:
        pass  # it exited between the check and the signal, which is what we wanted
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # when this process started it, reap the zombie so the pid is free
    return True


@contextlib.contextmanager
def file_lock(path: Path, mode: int = 0o600) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created with ``mode``; its folder must exist)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def make_private(folder: Path) -> None:
    """Every folder under ``folder`` (and it) 0700, every file 0600: an older home, or one made
    under a loose umask, closed the way the umask of new files cannot."""
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o700)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


@dataclass(frozen=True)
class Ports:
    """A local server's two ports, by name: each from an argument, else its environment variable,
    else the last start's ``ports.json``, else its default (the status of a stopped server reads
    ``ports.json`` before the environment: the ports it ran on)."""

    env: Mapping[str, str]  # name -> environment variable
    defaults: Mapping[str, int]  # name -> default port; its order is the pair's
    labels: Mapping[str, str]  # name -> how an error names it ("Bolt port")
    error: type[LocalServerError]

    def choose(self, home: Path, *given: int | None) -> tuple[int, int]:
        saved = self.saved(home)
        first, second = (
            number or self.from_env(name) or saved.get(name) or self.defaults[name]
            for number, name in zip(given, self.defaults, strict=True)
        )
        if not (0 < first < 65536 and 0 < second < 65536) or first == second:
            a, b = self.labels.values()
            raise self.error(f"{a} {first} and {b} {second} must differ and lie in 1-65535")
        return first, second

    def last(self, home: Path) -> tuple[int, int]:
        saved = self.saved(home)
        first, second = (saved.get(k) or self.from_env(k) or self.defaults[k] for k in self.defaults)
        return first, second

    def save(self, home: Path, *ports: int) -> None:
        write_private(home / "ports.json", json.dumps(dict(zip(self.defaults, ports, strict=True))) + "\n")

    def from_env(self, name: str) -> int | None:
        raw = os.environ.get(self.env[name], "").strip()
        if raw and not raw.isdigit():
            raise self.error(f"{self.env[name]} must be a port number, not {raw!r}")
        return int(raw) if raw else None

    def saved(self, home: Path) -> dict[str, int]:
        # Missing or hand-mangled: fall back to the environment and the defaults.
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads((home / "ports.json").read_text(encoding="utf-8"))
            return {k: int(v) for k, v in data.items() if k in self.defaults}
        return {}
