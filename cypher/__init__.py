"""Named Cypher queries, one per file; shipped as ``resolver.store.cypher`` and loaded by
``resolver.store.queries``."""
