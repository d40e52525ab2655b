"""What an external service raises or returns to tell the engine how a create went wrong.

``PermanentError`` is for services called in-process (``python:MODULE:FUNC``): raising it says
"this item cannot be created, do not retry"; any other exception counts as transient.
"""

from __future__ import annotations

__all__ = ["PermanentError"]


class PermanentError(Exception):
    """Raised by a service to fail an item for good: the engine does not retry it."""
