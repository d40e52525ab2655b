"""Named Cypher queries, one per file; loaded by resolver.queries."""
