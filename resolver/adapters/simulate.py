"""The default adapter: a pretend service that creates everything at once."""

from __future__ import annotations

import random
import time

from ..models import Message
from .base import Created, Failed, Result

__all__ = ["SimulateAdapter"]


class SimulateAdapter:
    """Answers ``{"id": "sim-<objectId>"}``; ``latency`` (seconds) and ``failure_rate`` make demos
    look like a real service. ``seed`` makes the failures repeatable."""

    name = "simulate"
    final_answers = True  # created or failed, never accepted (resolver.walk)

    def __init__(self, latency: float = 0.0, failure_rate: float = 0.0, seed: int | None = None):
        self.latency = latency
        self.failure_rate = failure_rate
        self.inline = latency == 0.0
        self._random = random.Random(seed)

    def send(self, message: Message) -> Result:
        if self.latency:
            time.sleep(self.latency)
        if message["kind"] == "batch-complete":
            return Created()  # the notice is what the run's dispatch log records
        if self.failure_rate and self._random.random() < self.failure_rate:
            return Failed("simulated failure", permanent=True)
        if message["kind"] == "create-object":
            return Created({"id": f"sim-{message['objectId']}"})
        return Created()

    def close(self) -> None:
        pass
