"""The NATS JetStream wire format, shared by the resolver's adapter and ``resolver worker``: the
connection settings, the streams and consumers with their configurations, the headers, and how
a message becomes a publish and an answer becomes reports (docs/interface.md, "Broker").

Streams (``<p>`` is the prefix, ``resolver`` by default), all file-backed, each with a
10-minute duplicate window (longer than a lease, so a re-sent create is dropped):

- ``<p>-creates`` on ``<p>.create.>``: work-queue retention (a message lives until a worker
  acks it); one durable pull consumer per worker group, shared by all its workers.
- ``<p>-answers`` on ``<p>.reply.>``: work-queue retention; one durable pull consumer,
  ``resolver``, shared by every resolver process.
- ``<p>-notices`` on ``<p>.batch-complete.>``: limits retention, kept 7 days, for any number of
  readers.

Bodies are exactly the contract's JSON; routing travels in the subject and in headers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from ...errors import AdapterError
from ...models import Message
from ...reporting import Report, ReportError, ReportKind, parse_item
from ...text import clip, json_kind, shown
from .subjects import AnswerKind, Subjects, header_token, is_hashed, route_token, token, untoken

__all__ = [
    "ANSWER_CONSUMER",
    "BATCH_HEADER",
    "DUPLICATE_WINDOW",
    "MSG_ID",
    "REPLY_HEADER",
    "Answer",
    "Job",
    "NatsSettings",
    "Outgoing",
    "Streams",
    "answer_consumer",
    "create_request",
    "decode_answer",
    "decode_create",
    "notice_consumer",
    "resend_id",
    "stream_configs",
    "worker_consumer",
]

MSG_ID = "Nats-Msg-Id"
BATCH_HEADER = "Resolver-Batch"  # the batch id, as a reversible token (never hashed)
REPLY_HEADER = "Resolver-Reply"  # the reply subject; services append .completions or .failures

DUPLICATE_WINDOW = 600.0  # seconds: longer than any lease, so a re-sent create is dropped
NOTICE_AGE = 7 * 24 * 3600.0
ANSWER_CONSUMER = "resolver"
ANSWER_MAX_DELIVER = 20
MAX_ACK_PENDING = 20_000  # per consumer: far above what the fetch batches keep in flight

_SCHEMES = ("nats", "tls")
_ID_KEYS = {"create-object": "objectId", "create-link": "linkId"}
_KINDS: dict[AnswerKind, ReportKind] = {"completions": "completion", "failures": "failure"}


@dataclass(frozen=True)
class NatsSettings:
    """Where the broker is and how to log in: the servers of a spec (``nats://HOST:PORT``, a
    comma-separated list for a cluster; credentials in a URL are used as given), else
    RESOLVER_NATS_USER/_PASSWORD or RESOLVER_NATS_TOKEN; RESOLVER_NATS_PREFIX,
    RESOLVER_NATS_REPLICAS and RESOLVER_NATS_ANSWER_ACK_WAIT as the README lists them."""

    servers: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    auth_token: str | None = None
    prefix: str = "resolver"
    #: None: not given, so an existing stream keeps its replica count (a new one gets 1)
    replicas: int | None = None
    answer_ack_wait: float = 30.0
    connect_timeout: float = 10.0
    #: how long a publish waits for a lost connection to come back before it fails
    outage_wait: float = 60.0

    @classmethod
    def from_spec(cls, spec: str, env: Mapping[str, str] | None = None) -> NatsSettings:
        env = os.environ if env is None else env
        servers = tuple(part.strip() for part in spec.split(",") if part.strip())
        if not servers:
            raise AdapterError("nats adapter: no server URL given (nats://HOST:PORT)")
        for url in servers:
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 - raises ValueError for a port that is no number
            except ValueError:
                raise AdapterError(f"nats adapter: {_safe(url)} is not a valid URL") from None
            if parts.scheme not in _SCHEMES or not parts.hostname:
                raise AdapterError(f"nats adapter: {_safe(url)}: expected nats://HOST:PORT (or tls://)")
        prefix = env.get("RESOLVER_NATS_PREFIX") or "resolver"
        try:
            Subjects(prefix)
        except ValueError as exc:
            raise AdapterError(f"RESOLVER_NATS_PREFIX: {exc}") from None
        return cls(
            servers=servers,
            user=env.get("RESOLVER_NATS_USER") or None,
            password=env.get("RESOLVER_NATS_PASSWORD") or None,
            auth_token=env.get("RESOLVER_NATS_TOKEN") or None,
            prefix=prefix,
            replicas=_number(env, "RESOLVER_NATS_REPLICAS", None, int, 1, 5),
            answer_ack_wait=_number(env, "RESOLVER_NATS_ANSWER_ACK_WAIT", 30.0, float, 1.0, 3600.0),
        )

    @property
    def shown_servers(self) -> str:
        """The server list as it may be printed: credentials in a URL are masked."""
        return ",".join(_safe(url) for url in self.servers)


def _number(env: Mapping[str, str], name: str, default: Any, kind: type, low: float, high: float) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise AdapterError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise AdapterError(f"{name} must lie in {low:g}-{high:g}, not {raw!r}")
    return value


def _safe(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"***@{host}{port}").geturl()


# -- streams and consumers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Streams:
    prefix: str = "resolver"

    @property
    def creates(self) -> str:
        return f"{self.prefix}-creates"

    @property
    def answers(self) -> str:
        return f"{self.prefix}-answers"

    @property
    def notices(self) -> str:
        return f"{self.prefix}-notices"


def stream_configs(subjects: Subjects, replicas: int) -> list[StreamConfig]:
    streams = Streams(subjects.prefix)
    common: dict[str, Any] = {
        "storage": StorageType.FILE,
        "num_replicas": replicas,
        "duplicate_window": DUPLICATE_WINDOW,
    }
    return [
        StreamConfig(
            name=streams.creates,
            description="resolver: create requests, one worker each",
            subjects=[subjects.creates],
            retention=RetentionPolicy.WORK_QUEUE,
            **common,
        ),
        StreamConfig(
            name=streams.answers,
            description="resolver: the services' answers, until a resolver recorded them",
            subjects=[subjects.answers],
            retention=RetentionPolicy.WORK_QUEUE,
            **common,
        ),
        StreamConfig(
            name=streams.notices,
            description="resolver: batch-complete notices",
            subjects=[subjects.notices],
            retention=RetentionPolicy.LIMITS,
            max_age=NOTICE_AGE,
            **common,
        ),
    ]


def worker_consumer(
    subjects: Subjects, filters: Sequence[str], ack_wait: float, max_deliver: int
) -> ConsumerConfig:
    """The durable pull consumer a worker group shares: ``workers`` for every create, else
    ``workers-<hash of the filters>``, so workers started with the same ``--subjects`` share
    one (the server refuses two whose filters overlap on a work-queue stream)."""
    config = ConsumerConfig(
        durable_name=_group(filters),
        name=_group(filters),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
        max_ack_pending=MAX_ACK_PENDING,
        description="resolver worker: create requests",
    )
    if len(filters) == 1:
        config.filter_subject = filters[0]
    elif filters:
        config.filter_subjects = list(filters)
    else:
        config.filter_subject = subjects.creates
    return config


def notice_consumer(subjects: Subjects, filters: Sequence[str], max_deliver: int) -> ConsumerConfig:
    """One per worker group: each group's handler hears every batch-complete once. It starts
    with the notices published after it was first made (not a week of old ones)."""
    name = f"{_group(filters)}-notices"
    return ConsumerConfig(
        durable_name=name,
        name=name,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.NEW,
        ack_wait=60.0,
        max_deliver=max_deliver,
        filter_subject=subjects.notices,
        description="resolver worker: batch-complete notices",
    )


def answer_consumer(subjects: Subjects, ack_wait: float) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=ANSWER_CONSUMER,
        name=ANSWER_CONSUMER,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=ANSWER_MAX_DELIVER,
        max_ack_pending=MAX_ACK_PENDING,
        filter_subject=subjects.answers,
        description="resolver: answers to record",
    )


def _group(filters: Sequence[str]) -> str:
    if not filters:
        return "workers"
    digest = hashlib.sha256("\n".join(sorted(filters)).encode()).hexdigest()[:10]
    return f"workers-{digest}"


# -- what goes out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One publish: subject, body, headers; ``msg_id`` the idempotency header it carries."""

    subject: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def msg_id(self) -> str:
        return self.headers.get(MSG_ID, "")

    def with_msg_id(self, msg_id: str) -> Outgoing:
        return Outgoing(self.subject, self.body, {**self.headers, MSG_ID: msg_id})


def body_of(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: JSON's \u escapes still carry it
        return json.dumps(value).encode()


def create_request(subjects: Subjects, message: Message) -> Outgoing:
    """A create (or a batch-complete notice) as a publish: ``Nats-Msg-Id`` its idempotencyKey,
    ``Resolver-Batch`` the batch, ``Resolver-Reply`` where the answer goes (creates only)."""
    batch_id = message["batchId"]
    headers = {MSG_ID: header_token(message["idempotencyKey"]), BATCH_HEADER: token(batch_id)}
    if message["kind"] == "create-object":
        subject = subjects.create_object(message["objectType"])
    elif message["kind"] == "create-link":
        subject = subjects.create_link(message["linkTag"])
    else:
        return Outgoing(subjects.notice(batch_id), body_of(message), headers)
    headers[REPLY_HEADER] = subjects.reply(batch_id)
    return Outgoing(subject, body_of(message), headers)


def resend_id(msg_id: str, taken_seq: int) -> str:
    """The id of a create sent again after a worker took the first one (a retry, a transient
    failure reported by the service, a lease that ran out): ``<id> <seq of the one taken>``.
    No plain id holds a space, so it meets no other item's id, and the same re-send from two
    attempts is still dropped as a duplicate."""
    return f"{msg_id} {taken_seq}"


# -- the worker's side: a create request ----------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A create request a worker took: the message for the handler and where to answer."""

    message: dict[str, Any]
    reply: str
    batch_header: str
    item: dict[str, str]  # {"objectId": ...} or {"linkId": ...}: the answer item's name

    @property
    def is_object(self) -> bool:
        return "objectId" in self.item


def decode_create(subjects: Subjects, subject: str, data: bytes, headers: Mapping[str, str] | None) -> Job:
    """ValueError (with a one-line reason) for a message that is no create request."""
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"body is not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise ValueError(f"body is {json_kind(message)}, not a create message")
    kind = message.get("kind")
    id_key = _ID_KEYS.get(kind) if isinstance(kind, str) else None
    if id_key is None:
        raise ValueError(f"kind is {shown(clip(str(kind)))}, not create-object or create-link")
    for key in ("batchId", id_key, "idempotencyKey"):
        if not isinstance(message.get(key), str) or not message[key]:
            raise ValueError(f"{key} must be a non-empty string")
    headers = headers or {}
    reply = headers.get(REPLY_HEADER) or subjects.reply(message["batchId"])
    if not subjects.is_reply(reply):
        raise ValueError(f"{REPLY_HEADER} {shown(clip(reply))} is not a reply subject of {subjects.prefix}")
    batch_header = headers.get(BATCH_HEADER) or token(message["batchId"])
    return Job(message, reply, batch_header, {id_key: message[id_key]})


# -- the resolver's side: an answer ---------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    batch_id: str
    kind: ReportKind
    reports: list[Report]


def decode_answer(subjects: Subjects, subject: str, data: bytes, headers: Mapping[str, str] | None) -> Answer:
    """One answer message: its batch (the subject's token, or the ``Resolver-Batch`` header
    when the subject's is hashed), its kind, and its items (one object, or an array of them).
    ReportError or ValueError, with a one-line reason, for anything else."""
    batch_token, answer_kind = subjects.parse_answer(subject)
    if is_hashed(batch_token):
        named = (headers or {}).get(BATCH_HEADER)
        if not named:
            raise ValueError(f"the subject names its batch by a hash: the {BATCH_HEADER} header is needed")
        batch_id = untoken(named)
        if route_token(batch_id) != batch_token:
            raise ValueError(f"the {BATCH_HEADER} header names another batch than the subject")
    else:
        batch_id = untoken(batch_token)
    kind = _KINDS[answer_kind]
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise ReportError(f"body is not JSON ({clip(str(exc))})") from None
    if isinstance(body, dict):
        return Answer(batch_id, kind, [parse_item(body, kind, "the item")])
    if isinstance(body, list):
        if not body:
            raise ReportError("an empty array of items")
        return Answer(batch_id, kind, [parse_item(item, kind, f"item {i}") for i, item in enumerate(body)])
    raise ReportError(f"body is {json_kind(body)}, not an item or an array of items")
