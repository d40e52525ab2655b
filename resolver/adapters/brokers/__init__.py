"""Adapters whose services sit behind a message broker, a folder of their own so that others
(Kafka, RabbitMQ) can sit beside NATS later, as dramatiq keeps its brokers:

- ``subjects``: subject tokens made from data, and the subject layout (no broker library);
- ``nats_wire``: NATS JetStream's wire format: settings, streams, consumers, headers, decoding;
- ``nats_client``: connecting, setting up streams and consumers, publishing through outages;
- ``nats_answers``: the thread that records the services' answers;
- ``nats``: ``NatsAdapter``, the resolver's side (``--adapter nats://...``);
- ``nats_worker``: the services' side (``resolver worker``).

Nothing here is imported until a ``nats://`` spec asks for it.
"""
