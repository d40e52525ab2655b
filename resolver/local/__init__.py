"""Local servers for development and tests, started without Docker: NATS JetStream (``nats``) and
the helpers every local server shares (``process``)."""
