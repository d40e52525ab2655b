"""Provision, start, stop and report a local Neo4j Community server without Docker.

Neo4j's tarball is not on Maven Central but every jar of the server is, so ``install`` collects
``lib/`` with Maven from a pinned POM and ``start`` runs the server's entry point with plain java.
One home holds ``lib/`` (jars and a version marker), ``conf/neo4j.conf`` (rewritten at every start),
``data|logs|run|import|plugins``, ``password`` (0600) and ``ports.json`` (ports of the last start).
Expected failures raise ``LocalNeo4jError`` with a one-line message.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL, PIPE, STDOUT

from ..errors import LocalNeo4jError
from .process import Ports, file_lock, live_pid, make_private, pid_alive, terminate, write_private
from .process import port_open as _port_open
from .process import read_text as _read

__all__ = [
    "NEO4J_VERSION",
    "PORTS",
    "LocalNeo4jError",
    "LocalServer",
    "default_home",
    "install",
    "running",
    "start",
    "status",
    "stop",
]

NEO4J_VERSION = "5.26.30"
BROWSER_VERSION = "5.24.0"  # Browser has its own release line; this is its newest release
DEFAULT_BOLT_PORT = 7687
DEFAULT_HTTP_PORT = 7474

_PACKAGE_DIR = Path(__file__).resolve().parent
_FILES = _PACKAGE_DIR / "neo4j_files"
# Pinned because Maven 3.8 resolves an ancient dependency plugin when left to choose.
_COPY_GOAL = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies"
_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
# What the neo4j launcher script would pass; Netty and the page cache need the opens on Java 17+.
# The parallel collector instead of G1: imports are throughput work, and on two cores G1's
# concurrent threads and write barriers cost the 100k benchmark 3-5 s (29.1 and 31.6 s with G1,
# 26.2 and 25.0 s without); its pauses on a 2 GiB heap are tens of milliseconds.
_JVM_OPTS = (
    *("-XX:+UseParallelGC", "-XX:+ExitOnOutOfMemoryError", "-Dfile.encoding=UTF-8"),
    *("-Dio.netty.tryReflectionSetAccessible=true", "--add-opens=java.base/java.nio=ALL-UNNAMED"),
    *("--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED"),
)
_MARKER = "lib/RESOLVER_NEO4J_VERSION"  # inside lib/, so jars and their version swap in together
_PID_FILE = "run/resolver-neo4j.pid"
_DIRS = ("conf", "data", "logs", "run", "import", "plugins")
_PRIVATE = ("data", "logs", "run")
_PORT_ENV = {"bolt": "RESOLVER_NEO4J_BOLT_PORT", "http": "RESOLVER_NEO4J_HTTP_PORT"}
PORTS = Ports(
    env=_PORT_ENV,
    defaults={"bolt": DEFAULT_BOLT_PORT, "http": DEFAULT_HTTP_PORT},
    labels={"bolt": "Bolt port", "http": "HTTP port"},
    error=LocalNeo4jError,
)


@dataclass(frozen=True)
class LocalServer:
    home: Path
    bolt_port: int
    http_port: int
    password: str
    version: str
    pid: int | None
    username: str = "neo4j"

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/browser/"


def default_home() -> Path:
    """$RESOLVER_NEO4J_HOME, else ``.neo4j`` in a source checkout, else the user's cache."""
    env = os.environ.get("RESOLVER_NEO4J_HOME")
    if env:
        return Path(env).expanduser().resolve()
    checkout = _PACKAGE_DIR.parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".neo4j"
    return Path.home() / ".cache" / "resolver" / "neo4j"


def install(home: Path | None = None, *, echo: Callable[[str], None] = print) -> Path:
    """Fetch the jars (once per version), create the layout and set the initial password."""
    home = _resolve(home)
    with _lock(home):
        _install(home, echo)
    return home


def start(
    home: Path | None = None,
    *,
    bolt_port: int | None = None,
    http_port: int | None = None,
    extra_conf: Mapping[str, str] | None = None,
    timeout: float = 120,
    echo: Callable[[str], None] = print,
) -> LocalServer:
    """Start the server (installing it first if needed) and wait until it serves Bolt.

    A server of this home that already runs is returned as it is: new ports or ``extra_conf``
    apply at the next start after a ``stop``.
    """
    home = _resolve(home)
    with _lock(home):
        current = status(home)
        if current is not None and current.pid is not None:
            # Up, or still warming up from an earlier call: never run a second JVM on one store.
            _wait_ready(home, current.pid, current.bolt_port, None, timeout)
            if bolt_port not in (None, current.bolt_port) or http_port not in (None, current.http_port):
                echo(f"Neo4j is already running on Bolt port {current.bolt_port}; stop it to change ports")
            return current
        _install(home, echo)
        java = _java()
        bolt, http = PORTS.choose(home, bolt_port, http_port)
        for name, port in (("bolt", bolt), ("http", http)):
            if _port_open(port):
                raise LocalNeo4jError(
                    f"{name} port {port} on 127.0.0.1 is already in use; "
                    f"pick another with --{name}-port or {_PORT_ENV[name]}"
                )
        PORTS.save(home, bolt, http)
        conf = _write_conf(home, bolt, http, extra_conf or {})
        log = home / "logs" / "console.log"
        if log.exists():
            # Keep one previous run for post-mortems; readiness reads this run's lines only.
            log.replace(log.with_name("console.log.1"))
        args = [*_heap_flags(conf), *_JVM_OPTS, _ENTRY_POINT, f"--home-dir={home}"]
        cmd = _java_cmd(java, home, *args, f"--config-dir={home / 'conf'}", "--console-mode")
        echo(f"Starting Neo4j {NEO4J_VERSION} from {home} ...")
        # A new session, so that a Ctrl-C in the caller's terminal does not reach the server.
        for private in _PRIVATE:  # the store and its logs are the owner's alone
            make_private(home / private)
        with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdin=DEVNULL,
                stdout=out,
                stderr=STDOUT,
                env=_env(home),
                start_new_session=True,
                umask=0o077,  # what the server creates (store files, logs) stays private too
            )
        write_private(home / _PID_FILE, f"{proc.pid}\n")
        try:
            _wait_ready(home, proc.pid, bolt, proc, timeout)
        except BaseException:
            # A half-started server would keep the store lock and the ports: take it down.
            proc.kill()
            proc.wait()
            (home / _PID_FILE).unlink(missing_ok=True)
            raise
        return LocalServer(home, bolt, http, _read(home / "password"), NEO4J_VERSION, proc.pid)


def stop(home: Path | None = None, *, timeout: float = 60) -> bool:
    """SIGTERM the server, SIGKILL it after ``timeout`` seconds; True if it was running."""
    home = _resolve(home)
    pid = _live_pid(home)
    if pid is None:
        (home / _PID_FILE).unlink(missing_ok=True)
        return False
    try:
        gone = terminate(pid, lambda: _alive(pid, home), timeout)
    except PermissionError as e:
        raise LocalNeo4jError(f"not allowed to stop Neo4j (pid {pid}): {e.strerror}") from None
    if not gone:
        raise LocalNeo4jError(f"Neo4j (pid {pid}) is still alive after SIGKILL")
    (home / _PID_FILE).unlink(missing_ok=True)
    return True


def status(home: Path | None = None) -> LocalServer | None:
    """The installed server, or None if not installed; its pid is None when it is not running."""
    home = _resolve(home)
    version = _read(home / _MARKER)
    if not version or not (home / "password").is_file():
        return None
    bolt, http = PORTS.last(home)
    return LocalServer(home, bolt, http, _read(home / "password"), version, _live_pid(home))


def running(home: Path | None = None) -> LocalServer | None:
    """The server if its process is alive and Bolt accepts connections, else None."""
    server = status(home)
    return server if server and server.pid and _port_open(server.bolt_port) else None


def _install(home: Path, echo: Callable[[str], None]) -> None:
    for name in _DIRS:
        (home / name).mkdir(parents=True, exist_ok=True)
    if _read(home / _MARKER) != NEO4J_VERSION:
        _fetch_jars(home, echo)
    if (home / "password").is_file():
        return
    if (home / "data" / "databases" / "system").exists():
        # set-initial-password only works before the first start; a new one would not apply.
        raise LocalNeo4jError(
            f"{home / 'password'} is missing but {home / 'data'} already holds a database; "
            f"restore the file, or delete {home / 'data'} to start from an empty database"
        )
    java = _java()
    _write_conf(home, *PORTS.choose(home, None, None), {})  # the admin tool reads data dir from it
    password = secrets.token_urlsafe(18)
    while password.startswith("-"):  # the admin tool would take it for an option
        password = secrets.token_urlsafe(18)
    cmd = _java_cmd(java, home, "org.neo4j.cli.AdminTool", "dbms", "set-initial-password", password)
    try:
        done = subprocess.run(cmd, env=_env(home), capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LocalNeo4jError(f"neo4j-admin could not run: {e}") from None
    if done.returncode != 0:
        why = _meaningful_line(done.stderr + done.stdout, f"exit code {done.returncode}")
        raise LocalNeo4jError(f"neo4j-admin dbms set-initial-password failed: {why}")
    write_private(home / "password", password + "\n")


def _fetch_jars(home: Path, echo: Callable[[str], None]) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalNeo4jError(
            f"Maven ('mvn') is needed to fetch the Neo4j {NEO4J_VERSION} jars but is not on PATH; "
            "install it (e.g. apt-get install maven)"
        )
    (home / "build").mkdir(exist_ok=True)
    pom = (_FILES / "pom.xml").read_text(encoding="utf-8").replace("@NEO4J_VERSION@", NEO4J_VERSION)
    (home / "build" / "pom.xml").write_text(pom.replace("@BROWSER_VERSION@", BROWSER_VERSION))
    # Fetch beside lib/ so that an interrupted download never looks like an installation.
    partial = home / "lib.partial"
    shutil.rmtree(partial, ignore_errors=True)
    echo(f"Fetching the Neo4j {NEO4J_VERSION} jars with Maven (once, ~140 MB) ...")
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", _COPY_GOAL, f"-DoutputDirectory={partial}"]
    cmd.append("-DincludeScope=runtime")
    try:
        done = subprocess.run(
            cmd, cwd=home / "build", stdin=DEVNULL, stdout=PIPE, stderr=STDOUT, text=True, timeout=1800
        )
    except subprocess.TimeoutExpired:
        raise LocalNeo4jError(f"Maven did not fetch the Neo4j {NEO4J_VERSION} jars in 30 min") from None
    except OSError as e:
        raise LocalNeo4jError(f"cannot run Maven ({mvn}): {e.strerror}") from None
    if done.returncode != 0 or not any(partial.glob("*.jar")):
        why = _maven_error(done.stdout) or f"exit code {done.returncode}"
        raise LocalNeo4jError(f"Maven failed to fetch Neo4j {NEO4J_VERSION} jars: {why}")
    (partial / Path(_MARKER).name).write_text(NEO4J_VERSION + "\n")
    shutil.rmtree(home / "lib", ignore_errors=True)
    partial.rename(home / "lib")


def _maven_error(output: str) -> str:
    # Maven's first [ERROR] line says what failed; the ones after it are generic advice. Maven 3.8
    # prefixes colour resets even in batch mode.
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    errors = [ln[7:].strip() for ln in output.splitlines() if ln.startswith("[ERROR]") and ln[7:].strip()]
    return (errors[0] if errors else output.strip().rpartition("\n")[2])[:400]


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    exe = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if exe is None or not os.access(exe, os.X_OK):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "'java' is not on PATH"
        raise LocalNeo4jError(
            f"Neo4j needs Java 17+ but {where}; install a JDK (e.g. apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME to one"
        )
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LocalNeo4jError(f"cannot run {exe} -version: {e}") from None
    # Covers "17.0.15", "21", "21-ea" and the old "1.8.0_392".
    m = re.search(r'version "(?:1\.)?(\d+)', out.stderr + out.stdout)
    major = int(m.group(1)) if m else 0
    if major < 17:
        raise LocalNeo4jError(
            f"Neo4j {NEO4J_VERSION} needs Java 17 or newer but {exe} is Java {major or 'unknown'}; "
            "set JAVA_HOME to a newer JDK"
        )
    return exe


def _write_conf(home: Path, bolt: int, http: int, extra: Mapping[str, str]) -> dict[str, str]:
    # The template's comments say why each default is what it is.
    text = (_FILES / "neo4j.conf").read_text(encoding="utf-8").replace("{home}", str(home))
    text = text.replace("{bolt}", str(bolt)).replace("{http}", str(http))
    lines = [line.strip() for line in text.splitlines()]
    # A dict, not appended lines: Neo4j rejects a setting that is declared twice.
    settings = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    for key, value in extra.items():
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", key) or "\n" in value or "\r" in value:
            raise LocalNeo4jError(f"invalid Neo4j setting {key!r}={value!r}")
        settings[key] = value
    head = "# Written by resolver.local.neo4j at every start, so edits are lost: pass extra_conf.\n"
    text = head + "".join(f"{key}={value}\n" for key, value in settings.items())
    (home / "conf" / "neo4j.conf").write_text(text, encoding="utf-8")
    return settings


def _heap_flags(settings: Mapping[str, str]) -> list[str]:
    # The launcher script turns these settings into -Xms/-Xmx; plain java would ignore them and
    # size the heap at a quarter of the machine's memory.
    sizes: dict[str, tuple[int, str]] = {}
    for key in ("initial_size", "max_size"):
        value = settings.get(f"server.memory.heap.{key}", "").strip()
        m = re.fullmatch(r"(\d+)\s*([kmgKMG]?)(?:i?[bB])?", value)
        if m:
            unit = m.group(2).lower()
            sizes[key] = (int(m.group(1)) * 1024 ** " kmg".index(unit or " "), f"{m.group(1)}{unit}")
    # A smaller max (say extra_conf lowers it) must not leave the default initial size above it:
    # the JVM would refuse to start.
    if "initial_size" in sizes and "max_size" in sizes and sizes["initial_size"][0] > sizes["max_size"][0]:
        sizes["initial_size"] = sizes["max_size"]
    return [
        f"{flag}{sizes[key][1]}"
        for key, flag in (("initial_size", "-Xms"), ("max_size", "-Xmx"))
        if key in sizes
    ]


def _wait_ready(
    home: Path, pid: int, bolt: int, proc: subprocess.Popen[bytes] | None, timeout: float
) -> None:
    log = home / "logs" / "console.log"
    deadline = time.monotonic() + timeout
    recovery = _RecoveryWatch(home / "logs" / "debug.log")
    while True:
        exited = (proc.poll() is not None) if proc is not None else not _alive(pid, home)
        # Bolt opens just before the databases are up and "Started." is logged. A server from an
        # earlier call may have had its log rotated away, so for it the port must do.
        if not exited and _port_open(bolt) and (proc is None or "Started." in _read(log)):
            return
        if recovery.advanced():
            # After an unclean stop the database replays its transaction log first, which took
            # three minutes for 7 GB here: killing it at the timeout would only start it over.
            deadline = time.monotonic() + timeout
        if exited or time.monotonic() > deadline:
            what = "exited while starting" if exited else f"did not serve Bolt on {bolt} in {timeout:g} s"
            last = _meaningful_line(_read(log), "no output")
            raise LocalNeo4jError(f"Neo4j (pid {pid}) {what}: {last} (log: {log})")
        time.sleep(0.25)


class _RecoveryWatch:
    """Notices new "[o.n.k.r.Recovery] NN% completed" lines in the debug log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.offset = path.stat().st_size
        except OSError:
            self.offset = 0

    def advanced(self) -> bool:
        try:
            with self.path.open("rb") as f:
                if f.seek(0, os.SEEK_END) < self.offset:  # rotated: the new file is all news
                    self.offset = 0
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return False
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
        self.offset += len(complete)
        text = complete.decode("utf-8", "replace")
        return any("[o.n.k.r.Recovery]" in ln and "completed" in ln for ln in text.splitlines())


def _alive(pid: int, home: Path) -> bool:
    return pid_alive(pid, f"--home-dir={home}")


def _meaningful_line(text: str, default: str) -> str:
    # Stack frames say where, not why: prefer the last error or "Caused by" line over them.
    lines = [re.sub(r"^\d{4}-\d\d-\d\d \S+ ", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("at ", "..."))]
    errors = [line for line in lines if re.search(r"ERROR|Error|Exception|Caused by|[Ff]ailed", line)]
    return (errors or lines or [default])[-1][:400]


def _resolve(home: Path | None) -> Path:
    return (home if home is not None else default_home()).expanduser().resolve()


@contextlib.contextmanager
def _lock(home: Path) -> Iterator[None]:
    # Serialises install and start per home, e.g. for test workers sharing one server.
    (home / "run").mkdir(parents=True, exist_ok=True)
    with file_lock(home / "run" / "resolver-neo4j.lock", mode=0o644):
        yield


def _java_cmd(java: str, home: Path, *args: str) -> list[str]:
    return [java, "-cp", str(home / "lib" / "*"), *args]  # java expands the wildcard itself


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}


def _live_pid(home: Path) -> int | None:
    return live_pid(home / _PID_FILE, f"--home-dir={home}")
