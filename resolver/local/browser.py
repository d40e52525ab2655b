"""Serve the Neo4j Browser style and guide to the Browser, from 127.0.0.1.

Neo4j Browser fetches ``:style URL`` and ``:play URL`` from the page, so the files need a web
server that answers its CORS preflight (the guide request carries ``Cache-Control``/``Pragma``
headers) and a host on the server's ``browser.remote_content_hostname_whitelist`` (the name
Neo4j 5 declares; the Browser calls it the allowlist). This is that
server, tiny and threaded, serving two files:

- ``/resolver.grass``: node colours by status label, captions, link styles
- ``/guide.html``: a guide with runnable queries (``:play http://127.0.0.1:7475/guide.html``)

``browser_conf(port)`` gives the Neo4j settings that make the Browser load the style (and the
guide) on connect; pass them as ``extra_conf`` to ``resolver.local.neo4j.start``.

Run it with ``python -m resolver.local.browser [--port N]`` (port: $RESOLVER_ASSETS_PORT, else
7475), or ``ensure_running(pid_file=...)`` to start it detached if it is not up yet, and
``stop(pid_file)`` to end it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from .process import pid_alive, terminate

__all__ = [
    "DEFAULT_PORT",
    "FILES",
    "assets_port",
    "base_url",
    "browser_conf",
    "ensure_running",
    "is_serving",
    "make_server",
    "read_asset",
    "serve_in_thread",
    "stop",
]

DEFAULT_PORT = 7475
HOST = "127.0.0.1"
# how its process is started, and how stop tells it from a process that reused its pid
_MARKER = "resolver.local.browser"
FILES = {
    "/resolver.grass": ("resolver.grass", "text/plain; charset=utf-8"),
    "/guide.html": ("guide.html", "text/html; charset=utf-8"),
}
# The Browser's default allowlist is "guides.neo4j.com,localhost"; it compares hostnames only.
ALLOWLIST = "guides.neo4j.com,localhost,127.0.0.1"


def assets_port() -> int:
    raw = os.environ.get("RESOLVER_ASSETS_PORT", "").strip()
    if raw.isdigit() and 0 < int(raw) < 65536:
        return int(raw)
    return DEFAULT_PORT


def base_url(port: int | None = None) -> str:
    return f"http://{HOST}:{port if port is not None else assets_port()}"


def browser_conf(port: int | None = None, *, guide: bool = True) -> dict[str, str]:
    """Neo4j settings: on connect the Browser loads the style (and opens the guide).

    ``browser.post_connect_cmd`` takes several commands separated by ``;`` (the Browser splits
    it and prefixes each with ``:``)."""
    url = base_url(port)
    commands = [f"style {url}/resolver.grass"]
    if guide:
        commands.append(f"play {url}/guide.html")
    return {
        "browser.post_connect_cmd": "; ".join(commands),
        # Neo4j 5.26 declares only the old name (strict config validation rejects the
        # "allowlist" spelling); the Browser reads either.
        "browser.remote_content_hostname_whitelist": ALLOWLIST,
    }


def read_asset(name: str, port: int | None = None) -> bytes:
    """A shipped file; the guide's ``{{ASSETS}}`` becomes this server's URL."""
    data = resources.files("resolver.local").joinpath("browser_files", name).read_bytes()
    if name.endswith(".html"):
        data = data.replace(b"{{ASSETS}}", base_url(port).encode())
    return data


class _Handler(BaseHTTPRequestHandler):
    server_version = "resolver-assets"

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header(
            "Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers") or "*"
        )
        self.send_header("Access-Control-Max-Age", "600")
        # Chrome's Private Network Access preflight, should the Browser page be public.
        self.send_header("Access-Control-Allow-Private-Network", "true")

    def do_OPTIONS(self) -> None:
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        entry = FILES.get(path)
        if entry is None:
            data = b"not found: try /resolver.grass or /guide.html\n"
            self.send_response(HTTPStatus.NOT_FOUND)
            ctype = "text/plain; charset=utf-8"
        else:
            data = read_asset(entry[0], getattr(self.server, "server_port", None))
            self.send_response(HTTPStatus.OK)
            ctype = entry[1]
        self._cors()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("RESOLVER_ASSETS_LOG"):
            super().log_message(format, *args)


def make_server(port: int | None = None) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (``port`` 0 picks a free one); call ``serve_forever``."""
    server = ThreadingHTTPServer((HOST, assets_port() if port is None else port), _Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(port: int | None = None) -> ThreadingHTTPServer:
    """Start a server on a daemon thread (tests); ``shutdown()`` stops it."""
    server = make_server(port)
    threading.Thread(target=server.serve_forever, name="resolver-assets", daemon=True).start()
    return server


def is_serving(port: int | None = None, timeout: float = 1.0) -> bool:
    """True if this port answers with our style file (not just anything listening)."""
    try:
        with urllib.request.urlopen(f"{base_url(port)}/resolver.grass", timeout=timeout) as r:
            return bool(r.status == 200 and b"node.PendingObject" in r.read())
    except OSError:
        return False


def ensure_running(port: int | None = None, *, pid_file: Path | None = None, timeout: float = 10.0) -> int:
    """Start ``python -m resolver.local.browser`` detached unless it already serves; returns
    the port. The child's pid goes to ``pid_file`` when given (``stop`` reads it). Raises
    OSError when the port is taken by something else or the server does not come up."""
    port = assets_port() if port is None else port
    if is_serving(port):
        return port
    if _port_open(port):
        raise OSError(f"port {port} on {HOST} is in use by something else; set RESOLVER_ASSETS_PORT")
    proc = subprocess.Popen(
        [sys.executable, "-m", _MARKER, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    if pid_file is not None:
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_serving(port, timeout=0.5):
            return port
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise OSError(f"the Browser assets server did not come up on port {port}")


def stop(pid_file: Path, timeout: float = 5.0) -> bool:
    """Stop the server ``ensure_running`` started with this pid file, and wait until it is gone
    (SIGKILL after ``timeout`` seconds), so its port is free when this returns; True if it was
    running."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    pid_file.unlink(missing_ok=True)
    if not pid_alive(pid, _MARKER):
        return False  # gone already, or the pid was reused by something else
    try:
        return terminate(pid, lambda: pid_alive(pid, _MARKER), timeout)
    except PermissionError:
        return False  # not ours: a pid reused by another user's process


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resolver.local.browser",
        description="Serve the resolver's Neo4j Browser style and guide on 127.0.0.1.",
    )
    parser.add_argument(
        "--port", type=int, default=None, help=f"port [default: $RESOLVER_ASSETS_PORT or {DEFAULT_PORT}]"
    )
    args = parser.parse_args(argv)
    port = assets_port() if args.port is None else args.port
    try:
        server = make_server(port)
    except OSError as exc:
        if is_serving(port):
            print(f"already serving on {base_url(port)}", file=sys.stderr)
            return 0
        print(f"error: cannot listen on {HOST}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    print(f"serving {base_url(port)}/resolver.grass and {base_url(port)}/guide.html", file=sys.stderr)
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
