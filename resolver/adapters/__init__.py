"""External services the engine dispatches to, chosen by a spec string:

- ``simulate`` (default), ``simulate:latency=0.01,failure_rate=0.1,seed=7``
- ``manual``: dispatch only; completions arrive through ``resolver complete``/``fail``
- ``python:package.module:function``: the callable gets the message, returns identifierIds
- ``command:PROGRAM [ARGS]``: message JSON on stdin, identifierIds JSON on stdout
- ``http:URL`` (or ``http://...``/``https://...``): POST the message as JSON
- ``nats://HOST:PORT[,nats://HOST2:PORT...]`` (or ``tls://``): NATS JetStream; services run
  ``resolver worker`` (``brokers/``)
"""

from __future__ import annotations

from typing import Any

from ..errors import AdapterError
from .base import Accepted, Adapter, Created, Failed, Result
from .manual import ManualAdapter
from .simulate import SimulateAdapter

__all__ = [
    "Accepted",
    "Adapter",
    "Created",
    "Failed",
    "ManualAdapter",
    "Result",
    "SimulateAdapter",
    "make_adapter",
]


def make_adapter(spec: str) -> Adapter:
    kind, _, arg = spec.partition(":")
    if kind == "simulate":
        return SimulateAdapter(**_options(spec, arg))
    if kind == "manual" and not arg:
        return ManualAdapter()
    if kind == "python" and arg:
        from .python import PythonAdapter

        return PythonAdapter(arg)
    if kind == "command" and arg:
        from .command import CommandAdapter

        return CommandAdapter(arg)
    if kind in ("http", "https") and arg:
        from .http import HttpAdapter

        return HttpAdapter(spec if arg.startswith("//") else arg)
    if kind in ("nats", "tls") and arg.startswith("//"):
        from .brokers.nats import NatsAdapter

        return NatsAdapter(spec)
    raise AdapterError(
        f"unknown adapter {spec!r}: use simulate, manual, python:MODULE:FUNC, command:PROGRAM, "
        "http:URL or nats://HOST:PORT"
    )


def _options(spec: str, arg: str) -> dict[str, Any]:
    names: dict[str, type] = {"latency": float, "failure_rate": float, "seed": int}
    out: dict[str, Any] = {}
    for part in filter(None, arg.split(",")):
        key, _, value = part.partition("=")
        if key not in names:
            raise AdapterError(f"adapter {spec!r}: unknown option {key!r} (latency, failure_rate, seed)")
        try:
            out[key] = names[key](value)
        except ValueError:
            raise AdapterError(f"adapter {spec!r}: option {key} needs a number, got {value!r}") from None
    return out
