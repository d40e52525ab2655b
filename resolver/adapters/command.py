"""``command:PROGRAM [ARGS]``: run a program for every create, the message JSON on its stdin.

==========================================================  ==================================
the program                                                 result
==========================================================  ==================================
exits 0, stdout a JSON object (create-object)               ``Created(obj)`` if it is valid
                                                            identifierIds (non-empty;
                                                            str/number/bool values), else
                                                            ``Failed(permanent=True)``
exits 0, stdout empty or any JSON (create-link)             ``Created(None)``
exits 0, stdout empty (create-object)                       ``Failed(permanent=True)``
exits 0, stdout ``accepted`` or ``{"accepted": true}``      ``Accepted()``: it reports later
                                                            through ``resolver complete``/``fail``
exits 0, stdout not JSON                                    ``Failed(permanent=False)``
exits 2                                                     ``Failed(permanent=True)``
exits with any other non-zero code, or is killed            ``Failed(permanent=False)``
runs longer than ``timeout`` seconds (it is killed)         ``Failed(permanent=False)``
cannot be started                                           ``Failed(permanent=False)``
==========================================================  ==================================

Failure reasons end with the last non-empty line the program wrote to stderr. Surrounding
whitespace on stdout is ignored. The program runs in its own process group, and the whole group
is killed on a timeout.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from ..errors import AdapterError
from ..models import Message, identifier_problem
from ..text import clip
from .base import Accepted, Created, Failed, Result

__all__ = ["PERMANENT_EXIT", "CommandAdapter"]

#: the exit code that means "do not retry this item"
PERMANENT_EXIT = 2


class CommandAdapter:
    name = "command"
    inline = False

    def __init__(self, command: str, timeout: float = 60.0) -> None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise AdapterError(f"command adapter {command!r}: {exc}") from None
        if not argv:
            raise AdapterError("command adapter: no program given (command:PROGRAM [ARGS])")
        if timeout <= 0:
            raise AdapterError(f"command adapter {command!r}: timeout must be positive, got {timeout}")
        argv[0] = _find_program(command, argv[0])
        self.command = command
        self.argv = argv
        self.timeout = timeout
        self._label = Path(argv[0]).name

    def send(self, message: Message) -> Result:
        data = json.dumps(message).encode()
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return Failed(f"cannot run {self._label}: {exc.strerror or exc}", permanent=False)
        try:
            out, err = proc.communicate(data, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            _, err = proc.communicate()
            return Failed(
                f"{self._label} timed out after {self.timeout:g}s{_last_line(err)}", permanent=False
            )
        code = proc.returncode
        if code != 0:
            if code < 0:
                try:
                    what = f"was killed by {signal.Signals(-code).name}"
                except ValueError:
                    what = f"was killed by signal {-code}"
            else:
                what = f"exited with {code}"
            return Failed(f"{self._label} {what}{_last_line(err)}", permanent=code == PERMANENT_EXIT)
        return self._result(message, out.decode(errors="replace").strip(), err)

    def _result(self, message: Message, text: str, err: bytes) -> Result:
        if text == "accepted":
            return Accepted()
        is_link = message["kind"] != "create-object"  # a link, or the batch-complete notice
        if not text:
            if is_link:
                return Created(None)
            return Failed(f"{self._label} printed no identifierIds{_last_line(err)}", permanent=True)
        try:
            value = json.loads(text)
        except ValueError as exc:
            return Failed(
                f"{self._label} printed invalid JSON on stdout ({exc}): {clip(text)}", permanent=False
            )
        if value == {"accepted": True}:
            return Accepted()
        if is_link:
            return Created(None)
        problem = identifier_problem(value)
        if problem is not None:
            return Failed(f"{self._label}: {problem}", permanent=True)
        return Created(value)

    def close(self) -> None:
        pass


def _find_program(command: str, program: str) -> str:
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(program)
        if not path.is_file():
            raise AdapterError(f"command adapter {command!r}: no such program {program!r}")
        if not os.access(path, os.X_OK):
            raise AdapterError(f"command adapter {command!r}: {program!r} is not executable")
        return str(path.resolve())
    found = shutil.which(program)
    if found is None:
        raise AdapterError(f"command adapter {command!r}: program {program!r} not found on PATH")
    return found


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _last_line(err: bytes | None) -> str:
    lines = [line.strip() for line in (err or b"").decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return f": {clip(lines[-1])}" if lines else ""
