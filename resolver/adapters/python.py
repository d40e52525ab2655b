"""``python:package.module:function``: call a function in this process for every create.

The function gets the message (a fresh copy: it may keep or change it) and answers:

=========================================  ===========================================
the function                               result
=========================================  ===========================================
returns a dict (create-object)             ``Created(dict)`` if it is valid identifierIds
                                           (non-empty; str/number/bool values), else
                                           ``Failed(permanent=True)`` saying why
returns None (create-object)               ``Failed(permanent=True)``: no identifierIds
returns None or a dict (create-link)       ``Created(None)``
returns ``"accepted"`` or ``Accepted()``   ``Accepted()``: it reports later through
                                           ``resolver complete``/``fail``
returns a ``Created``/``Failed``           used as it is (a ``Created`` is checked as above)
returns anything else                      ``Failed(permanent=True)``
raises ``PermanentError``                  ``Failed(permanent=True, str(exc))``
raises any other ``Exception``             ``Failed(permanent=False, "ExcType: msg")``
=========================================  ===========================================

The module is imported when the adapter is built; a module not found on ``sys.path`` is also
looked for in the current directory. The engine calls ``send`` from a thread pool, so the
function must be thread-safe.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..errors import AdapterError
from ..models import Message, identifier_problem
from .base import Accepted, Created, Failed, Result
from .errors import PermanentError

__all__ = ["PythonAdapter"]


class PythonAdapter:
    name = "python"
    inline = False

    def __init__(self, target: str) -> None:
        self.target = target
        self.function = _import(target)

    def send(self, message: Message) -> Result:
        try:
            answer = self.function(copy.deepcopy(message))
        except PermanentError as exc:
            return Failed(str(exc) or type(exc).__name__, permanent=True)
        except Exception as exc:  # a service error fails the item, transiently
            return Failed(f"{type(exc).__name__}: {exc}", permanent=False)
        return self._result(message, answer)

    def _result(self, message: Message, answer: Any) -> Result:
        if message["kind"] == "batch-complete":  # a notice: whatever it returns, it was told
            return answer if isinstance(answer, Failed) else Created(None)
        if isinstance(answer, Accepted) or (isinstance(answer, str) and answer == "accepted"):
            return Accepted()
        if isinstance(answer, Failed):
            return answer
        if isinstance(answer, Created):
            answer = answer.identifierIds
        if message["kind"] != "create-object":  # a link, or the batch-complete notice
            if answer is None or isinstance(answer, dict):
                return Created(None)
            return Failed(
                f"{self.target} returned {type(answer).__name__} for a link; "
                "expected None, a dict or 'accepted'",
                permanent=True,
            )
        if answer is None:
            return Failed(f"{self.target} returned no identifierIds (None)", permanent=True)
        problem = identifier_problem(answer)
        if problem is not None:
            return Failed(f"{self.target}: {problem}", permanent=True)
        return Created(dict(answer))

    def close(self) -> None:
        pass


def _import(target: str) -> Callable[[Any], Any]:
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise AdapterError(
            f"python adapter {target!r}: expected MODULE:FUNCTION, e.g. python:mypackage.service:create"
        )
    try:
        module = _import_module(module_name)
    except Exception as exc:  # any import failure is a misconfiguration
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise AdapterError(f"python adapter {target!r}: cannot import {module_name!r}: {detail}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AdapterError(
                f"python adapter {target!r}: module {module_name!r} has no attribute {attr!r}"
            ) from None
    if not callable(obj):
        raise AdapterError(f"python adapter {target!r}: {attr!r} is a {type(obj).__name__}, not a function")
    function: Callable[[Any], Any] = obj
    return function


def _import_module(name: str) -> ModuleType:
    """Import ``name``; a module not found on ``sys.path`` is also looked for in the current
    directory (appended to ``sys.path``, so it never shadows an installed one), since the
    ``resolver`` script, unlike ``python -m``, does not put it there."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        top = name.partition(".")[0]
        if exc.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)
        importlib.invalidate_caches()
        return importlib.import_module(name)
