"""The ``resolver`` command, one module per family of commands:

- ``app``: the group, its connection options and context, ``main``
- ``batches``: load, run, retry, status, schema
- ``reports``: complete, fail (what external services report back)
- ``views``: explain, graph, browse
- ``servers``: neo4j start|stop|status (the local servers)
- ``serve``: the HTTP service
- ``generate``: synthetic batches
- ``worker``: the services' side of the NATS broker
- ``output``: status tables and the progress bar
"""

from __future__ import annotations

from . import batches, generate, reports, serve, servers, views, worker
from .app import cli, main

__all__ = ["batches", "cli", "generate", "main", "reports", "serve", "servers", "views", "worker"]
