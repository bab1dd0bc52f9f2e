"""Typed shapes of what the API answers (dataclasses) and of what some calls take (TypedDicts).

Field names are the API's own (snake_case JSON). Timestamps stay ISO-8601 strings, as the server
sends them. A field the server adds later is ignored, one it leaves out is ``None``, so a client
keeps working across server versions.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from types import UnionType
from typing import Any, Dict, List, Literal, Optional, Type, TypedDict, TypeVar, Union, cast, get_args, get_origin, get_type_hints

Role = Literal["user", "assistant", "system", "tool"]
MessageStatus = Literal["pending", "indexed", "failed"]
SearchMode = Literal["hybrid", "semantic", "keyword"]
ReindexMode = Literal["failed", "pending", "all"]
Scope = Literal["read", "write"]
JobKind = Literal["delete", "erase_tenant"]
JobStatus = Literal["queued", "running", "completed", "failed"]
EventType = Literal["message.created", "message.indexed", "message.failed", "message.updated", "message.deleted"]
DeletionReason = Literal["deleted", "conversation_deleted", "filter", "expired", "retention", "tenant_erased"]
Order = Literal["newest", "oldest"]
WebhookEventType = Literal[
    "message.created", "message.indexed", "message.failed", "message.updated", "message.deleted",
    "conversation.deleted", "job.completed", "job.failed", "webhook.disabled",
]
DeliveryStatus = Literal["pending", "succeeded", "failed"]
#: A time the API takes: an ISO-8601 string with an offset, or a datetime (naive ones are UTC).
TimeLike = Union[str, datetime]


@dataclasses.dataclass
class User:
    id: str
    email: str
    username: str
    created_at: str


@dataclasses.dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str
    #: seconds until the access token expires
    expires_in: int


@dataclasses.dataclass
class ApiKey:
    """An API key as listed (no secret)."""

    id: str
    name: str
    #: public part of the key, to recognise it
    prefix: str
    scopes: List[str]
    #: the tenants it may use; None = every tenant of the account
    tenant_ids: Optional[List[str]]
    created_at: str
    expires_at: Optional[str]
    last_used_at: Optional[str]


@dataclasses.dataclass
class CreatedApiKey:
    """A new API key; ``key`` is the full secret, shown only in this answer."""

    id: str
    name: str
    key: str
    prefix: str
    scopes: List[str]
    tenant_ids: Optional[List[str]]
    created_at: str
    expires_at: Optional[str]


@dataclasses.dataclass
class Message:
    id: str
    tenant_id: str
    conversation_id: str
    role: str
    content: str
    importance: float
    metadata: Optional[Dict[str, Any]]
    #: pending until embedded and searchable (indexed), or failed (see ``error``)
    status: MessageStatus
    created_at: str
    indexed_at: Optional[str]
    error: Optional[str]
    expires_at: Optional[str]
    updated_at: Optional[str]


@dataclasses.dataclass
class MessagePage:
    messages: List[Message]
    #: pass as ``cursor`` for the next page; None at the end
    next_cursor: Optional[str]


@dataclasses.dataclass
class Conversation:
    tenant_id: str
    conversation_id: str
    title: Optional[str]
    metadata: Optional[Dict[str, Any]]
    message_count: int
    created_at: str
    updated_at: str
    last_message_at: Optional[str]


@dataclasses.dataclass
class ConversationPage:
    """Newest activity first; ``total`` counts them all."""

    conversations: List[Conversation]
    total: int
    limit: int
    offset: int


@dataclasses.dataclass
class ConversationHistory:
    """A conversation's messages, oldest first; ``total`` counts them all."""

    tenant_id: str
    conversation_id: str
    messages: List[Message]
    total: int
    limit: int
    offset: int


@dataclasses.dataclass
class SemanticScore:
    rank: int
    similarity: float
    contribution: float


@dataclasses.dataclass
class KeywordScore:
    rank: int
    bm25: float
    coverage: float
    contribution: float


@dataclasses.dataclass
class SignalScore:
    value: float
    contribution: float


@dataclasses.dataclass
class SearchExplain:
    """Score components (``explain=True``); the contributions add up to the score."""

    semantic: Optional[SemanticScore]
    keyword: Optional[KeywordScore]
    recency: SignalScore
    importance: SignalScore


@dataclasses.dataclass
class ContextMessage:
    id: str
    role: str
    content: str
    created_at: str


@dataclasses.dataclass
class SearchContext:
    """Neighbouring messages of a hit's conversation, in order (``context=N``)."""

    before: List[ContextMessage]
    after: List[ContextMessage]


@dataclasses.dataclass
class SearchResult:
    id: str
    content: str
    score: float
    role: str
    conversation_id: str
    tenant_id: str
    importance: float
    metadata: Optional[Dict[str, Any]]
    created_at: str
    explain: Optional[SearchExplain] = None
    context: Optional[SearchContext] = None


@dataclasses.dataclass
class ReindexResult:
    #: messages queued for indexing again
    queued: int


@dataclasses.dataclass
class TenantSummary:
    tenant_id: str
    messages: int
    conversations: int
    pending: int
    indexed: int
    failed: int
    retention_days: Optional[int]


@dataclasses.dataclass
class TenantPage:
    tenants: List[TenantSummary]
    next_cursor: Optional[str]


@dataclasses.dataclass
class Policy:
    tenant_id: str
    #: None: messages are kept until deleted (or their own expiry)
    retention_days: Optional[int]
    updated_at: Optional[str]


@dataclasses.dataclass
class Job:
    """A data job: a delete by filter, or a tenant erase."""

    id: str
    kind: JobKind
    tenant_id: str
    #: what a ``delete`` job removes
    filter: Optional[Dict[str, Any]]
    status: JobStatus
    #: messages deleted so far
    deleted: int
    created_at: str
    started_at: Optional[str]
    finished_at: Optional[str]
    error: Optional[str]


@dataclasses.dataclass
class ImportLineError:
    line: int
    message: str


@dataclasses.dataclass
class ImportReport:
    #: lines read (blank lines included)
    lines: int
    #: messages stored
    imported: int
    #: of those, stored with their exported vector (no embedding)
    with_vectors: int
    #: messages already there with the same content (a re-run)
    unchanged: int
    #: conversation lines applied
    conversations: int
    #: bad lines, skipped
    rejected: int
    #: the first 100 bad lines, with why
    errors: List[ImportLineError]


@dataclasses.dataclass
class MessageEvent:
    """One frame of an event stream."""

    #: the event's id: the same on every socket and in every webhook delivery (``webhook-id``) of it
    id: str
    type: EventType
    tenant_id: str
    conversation_id: str
    message: Message
    ts: str
    #: why a message was deleted (``message.deleted`` only)
    reason: Optional[DeletionReason] = None


@dataclasses.dataclass
class Webhook:
    """A webhook endpoint (its signing secret is shown only when created or rotated)."""

    id: str
    url: str
    events: List[str]
    #: only events of these tenants; None = all
    tenant_ids: Optional[List[str]]
    enabled: bool
    description: str
    #: why the server disabled it (410 Gone, too many failures)
    disabled_reason: Optional[str]
    consecutive_failures: int
    created_at: str
    updated_at: str


@dataclasses.dataclass
class CreatedWebhook(Webhook):
    """A new webhook endpoint; ``secret`` (``whsec_...``) signs its deliveries, shown only in this answer."""

    secret: str = ""


@dataclasses.dataclass
class SecretRotation:
    #: the new signing secret, shown once
    secret: str
    #: until then deliveries carry both signatures (space-separated)
    previous_valid_until: str


@dataclasses.dataclass
class WebhookDelivery:
    #: the event id: the ``webhook-id`` header, the same on every attempt
    id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    #: the receiver's last HTTP status (None: no answer)
    response_status: Optional[int]
    error: Optional[str]
    latency_ms: Optional[float]
    next_attempt_at: Optional[str]
    created_at: str
    last_attempt_at: Optional[str]


@dataclasses.dataclass
class DeliveryPage:
    """Newest first."""

    deliveries: List[WebhookDelivery]
    next_cursor: Optional[str]


@dataclasses.dataclass
class Health:
    status: str


@dataclasses.dataclass
class Readiness:
    status: str
    redis: bool
    queue: bool
    vector_engine: str
    vector_index: str
    embedding_model: str


class _MessageInputRequired(TypedDict):
    tenant_id: str
    conversation_id: str
    role: Role
    content: str


class MessageInput(_MessageInputRequired, total=False):
    """One message of :meth:`store_messages`; the same fields as :meth:`store_message`."""

    importance: Optional[float]
    metadata: Optional[Dict[str, Any]]
    id: Optional[str]
    created_at: Optional[TimeLike]
    ttl_seconds: Optional[int]
    expires_at: Optional[TimeLike]


T = TypeVar("T")
_hints: Dict[type, Dict[str, Any]] = {}


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(kind)
    if origin is Union or origin is UnionType:
        options = [a for a in get_args(kind) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if origin in (list, List) and isinstance(value, list):
        (item,) = get_args(kind) or (Any,)
        return [_convert(item, v) for v in value]
    if isinstance(kind, type) and dataclasses.is_dataclass(kind) and isinstance(value, dict):
        return from_json(kind, value)
    return value


def from_json(cls: Type[T], data: Dict[str, Any]) -> T:
    """Builds a model from the API's JSON: nested models converted, unknown fields ignored."""
    hints = _hints.get(cls)
    if hints is None:
        hints = _hints[cls] = get_type_hints(cls)
    values: Dict[str, Any] = {}
    for field in dataclasses.fields(cast(Any, cls)):
        if field.name in data:
            values[field.name] = _convert(hints[field.name], data[field.name])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            values[field.name] = None
    return cls(**values)
