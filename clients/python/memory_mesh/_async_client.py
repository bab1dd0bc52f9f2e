"""The client, written once: scripts/unasync.py derives the sync MemoryMesh (_sync_client.py) from it."""

from __future__ import annotations

import json
import logging
import os
import uuid
from typing import Any, AsyncIterator, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import httpx

from ._backend_async import Lock, monotonic, request_content, sleep
from ._core import (
    UNSET,
    USER_AGENT,
    AsyncNdjsonSource,
    Call,
    NdjsonBody,
    RetryPolicy,
    Unset,
    comma_list,
    compact,
    ids_of,
    iso,
    job_id_of,
    message_input,
    open_export_file,
    segment,
)
from .errors import MemoryMeshError, error_from_response
from .events import AsyncEventStream, events_url
from .models import (
    ApiKey,
    Conversation,
    ConversationHistory,
    ConversationPage,
    CreatedApiKey,
    CreatedWebhook,
    DeliveryPage,
    Health,
    ImportReport,
    Job,
    Message,
    MessageInput,
    MessagePage,
    MessageStatus,
    Order,
    Policy,
    Readiness,
    ReindexMode,
    ReindexResult,
    Role,
    Scope,
    SearchMode,
    SearchResult,
    SecretRotation,
    TenantPage,
    TenantSummary,
    TimeLike,
    TokenPair,
    User,
    Webhook,
    WebhookDelivery,
    WebhookEventType,
    from_json,
)

log = logging.getLogger("memory_mesh")
M = TypeVar("M")
Metadata = Mapping[str, Any]


class AsyncMemoryMesh:
    """A Memory Mesh client.

    Authenticate with an API key (``api_key=``, sent as ``x-api-key``), with tokens you hold
    (``access_token=`` / ``refresh_token=``), or with ``email=`` and ``password=`` (logged in at
    the first call, or call :meth:`login`). With tokens, a 401 is answered by refreshing the access
    token once (the refresh token rotates: the client keeps the new one; ``on_tokens`` is told) and
    sending the call again; a second 401 surfaces.

    Calls are retried per ``retry`` (:class:`RetryPolicy`): 429 after ``Retry-After``, 503 with
    backoff, never another 4xx. ``store_message`` / ``store_messages`` send a fresh
    ``Idempotency-Key`` per call (the same one on each retry), so a retried write is stored once.

    Failures raise :class:`MemoryMeshError`. Close the client when done (or use it as a context
    manager).
    """

    def __init__(
        self,
        base_url: str = "http://localhost:8000",
        *,
        api_key: Optional[str] = None,
        access_token: Optional[str] = None,
        refresh_token: Optional[str] = None,
        email: Optional[str] = None,
        password: Optional[str] = None,
        timeout: float = 30.0,
        retry: Optional[RetryPolicy] = None,
        idempotency_keys: bool = True,
        on_tokens: Optional[Callable[[TokenPair], None]] = None,
        headers: Optional[Mapping[str, str]] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.access_token = access_token
        self.refresh_token = refresh_token
        self._email = email
        self._password = password
        self.retry = retry or RetryPolicy()
        self.idempotency_keys = idempotency_keys
        self.on_tokens = on_tokens
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"user-agent": USER_AGENT, **(headers or {})},
        )
        self._auth_lock = Lock()

    async def aclose(self) -> None:
        """Closes the HTTP connections (not an ``http_client`` you passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> "AsyncMemoryMesh":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport

    def _auth_headers(self) -> Dict[str, str]:
        if self.api_key:
            return {"x-api-key": self.api_key}
        if self.access_token:
            return {"authorization": f"Bearer {self.access_token}"}
        return {}

    async def _ensure_login(self) -> None:
        if self.api_key or self.access_token or not (self._email and self._password):
            return
        async with self._auth_lock:
            if not self.access_token:
                await self._login(self._email, self._password)

    async def _recover(self, used: Optional[str]) -> bool:
        """After a 401 for access token ``used``: refresh it once (or see it already refreshed)."""
        if self.api_key or used is None:
            return False
        async with self._auth_lock:
            if self.access_token != used:
                return self.access_token is not None
            if not self.refresh_token:
                return False
            try:
                await self._rotate(self.refresh_token)
            except MemoryMeshError as error:
                log.info("memory-mesh: refreshing the access token failed: %s", error)
                return False
            return True

    async def _send(self, call: Call, stream: bool = False) -> httpx.Response:
        """Sends ``call`` with retries; the answer's status is 2xx (or in ``call.accept``)."""
        if call.auth:
            await self._ensure_login()
        attempt = 0
        recovered = False
        while True:
            attempt += 1
            used = self.access_token
            headers = {**call.headers, **(self._auth_headers() if call.auth else {})}
            content = None
            if call.body is not None:
                content = request_content(call.body)
                headers["content-type"] = "application/x-ndjson"
                if call.body.content_encoding:
                    headers["content-encoding"] = call.body.content_encoding
            request = self._http.build_request(call.method, call.path, params=call.params, json=call.json, content=content, headers=headers)
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as error:
                delay = self.retry.after_error(attempt) if call.resend and call.replayable else None
                if delay is None:
                    raise MemoryMeshError(f"{call.method} {call.path}: {error!r}", code="connection_error") from error
                log.info("memory-mesh: %s %s failed (%r); attempt %d in %.2fs", call.method, call.path, error, attempt + 1, delay)
                await sleep(delay)
                continue
            if response.status_code < 400 or response.status_code in call.accept:
                return response
            await response.aread()
            await response.aclose()
            if response.status_code == 401 and call.auth and not recovered and call.replayable and await self._recover(used):
                recovered = True
                attempt -= 1
                continue
            failure = error_from_response(response)
            delay = self.retry.after_status(attempt, response.status_code, failure.retry_after) if call.replayable else None
            if delay is None:
                raise failure
            log.info("memory-mesh: %s %s answered %d; attempt %d in %.2fs", call.method, call.path, response.status_code, attempt + 1, delay)
            await sleep(delay)

    async def _json(self, call: Call) -> Any:
        response = await self._send(call)
        return response.json() if response.content else None

    async def _model(self, cls: Type[M], call: Call) -> M:
        return from_json(cls, await self._json(call))

    async def _write(self, call: Call, idempotency_key: Optional[str]) -> Any:
        """A POST that stores messages: with an Idempotency-Key it is safe to send again."""
        key = idempotency_key or (str(uuid.uuid4()) if self.idempotency_keys else None)
        if key:
            call.headers["idempotency-key"] = key
            call.resend = True
        return await self._json(call)

    # ------------------------------------------------------------------ system

    async def health(self) -> Health:
        """``GET /health``: the API process is alive."""
        return await self._model(Health, Call("GET", "/health", auth=False, resend=True))

    async def ready(self) -> Readiness:
        """``GET /ready``: whether Redis and the queue answer (``status`` ``ready`` or ``unavailable``)."""
        return await self._model(Readiness, Call("GET", "/ready", auth=False, resend=True, accept=(503,)))

    # ------------------------------------------------------------------ auth

    async def register(self, email: str, username: str, password: str) -> User:
        """Creates an account (409 ``email_taken`` / ``username_taken``). Does not log in."""
        return await self._model(User, Call("POST", "/v1/auth/register", json={"email": email, "username": username, "password": password}, auth=False))

    async def _login(self, email: str, password: str) -> TokenPair:
        pair = await self._model(TokenPair, Call("POST", "/v1/auth/login", json={"email": email, "password": password}, auth=False))
        self._keep(pair)
        return pair

    async def login(self, email: Optional[str] = None, password: Optional[str] = None) -> TokenPair:
        """Logs in (with these credentials or the client's) and keeps the tokens for later calls."""
        email, password = email or self._email, password or self._password
        if not email or not password:
            raise ValueError("login needs an email and a password")
        self._email, self._password = email, password
        async with self._auth_lock:
            return await self._login(email, password)

    def _keep(self, pair: TokenPair) -> None:
        self.access_token, self.refresh_token = pair.access_token, pair.refresh_token
        if self.on_tokens is not None:
            self.on_tokens(pair)

    async def _rotate(self, refresh_token: str) -> TokenPair:
        # Never sent twice: the server spends a refresh token on first use (and reusing one revokes its login).
        pair = await self._model(TokenPair, Call("POST", "/v1/auth/refresh", json={"refresh_token": refresh_token}, auth=False))
        self._keep(pair)
        return pair

    async def refresh(self) -> TokenPair:
        """Rotates the refresh token: new tokens, kept; the old refresh token stops working."""
        async with self._auth_lock:
            if not self.refresh_token:
                raise ValueError("no refresh token: log in first")
            return await self._rotate(self.refresh_token)

    async def logout(self, refresh_token: Optional[str] = None) -> None:
        """Revokes the refresh token (the client's, by default) and its login; the client forgets its tokens."""
        token = refresh_token or self.refresh_token
        if not token:
            raise ValueError("no refresh token to revoke")
        await self._send(Call("POST", "/v1/auth/logout", json={"refresh_token": token}, auth=False, resend=True))
        if token == self.refresh_token:
            self.access_token = self.refresh_token = None
            self._password = None

    async def me(self) -> User:
        """The account the credential belongs to."""
        return await self._model(User, Call("GET", "/v1/auth/me", resend=True))

    async def delete_account(self, password: str) -> None:
        """Deletes the account and everything in it (needs the user's token, not an API key)."""
        await self._send(Call("DELETE", "/v1/auth/me", json={"password": password}))
        self.access_token = self.refresh_token = None
        self._password = None

    async def create_api_key(
        self,
        name: str,
        *,
        expires_days: Optional[int] = None,
        tenant_ids: Optional[Sequence[str]] = None,
        scopes: Optional[Sequence[Scope]] = None,
    ) -> CreatedApiKey:
        """Creates an API key; its full ``key`` is in this answer only. Needs the user's token."""
        body = compact({"name": name, "expires_days": expires_days, "tenant_ids": list(tenant_ids) if tenant_ids is not None else None, "scopes": list(scopes) if scopes is not None else None})
        return await self._model(CreatedApiKey, Call("POST", "/v1/auth/api-keys", json=body))

    async def list_api_keys(self) -> List[ApiKey]:
        """The account's API keys (no secrets)."""
        data = await self._json(Call("GET", "/v1/auth/api-keys", resend=True))
        return [from_json(ApiKey, k) for k in data["api_keys"]]

    async def revoke_api_key(self, key_id: str) -> None:
        """Revokes an API key at once (its event streams close with 4002)."""
        await self._send(Call("DELETE", f"/v1/auth/api-keys/{segment(key_id)}", resend=True))

    # ------------------------------------------------------------------ messages

    async def store_message(
        self,
        tenant_id: str,
        conversation_id: str,
        role: Role,
        content: str,
        *,
        importance: Optional[float] = None,
        metadata: Optional[Metadata] = None,
        id: Optional[str] = None,
        created_at: Optional[TimeLike] = None,
        ttl_seconds: Optional[int] = None,
        expires_at: Optional[TimeLike] = None,
        idempotency_key: Optional[str] = None,
    ) -> Message:
        """Stores a message (202: durable and queued; ``status`` is ``pending`` until indexed).

        Sent with an ``Idempotency-Key`` (``idempotency_key``, or a fresh UUID), kept across retries.
        """
        body = message_input(
            {
                "tenant_id": tenant_id,
                "conversation_id": conversation_id,
                "role": role,
                "content": content,
                "importance": importance,
                "metadata": metadata,
                "id": id,
                "created_at": created_at,
                "ttl_seconds": ttl_seconds,
                "expires_at": expires_at,
            }
        )
        return from_json(Message, await self._write(Call("POST", "/v1/messages", json=body), idempotency_key))

    async def store_messages(self, messages: Iterable[MessageInput], *, idempotency_key: Optional[str] = None) -> List[Message]:
        """Stores 1 to 1,000 messages at once, all or nothing; answers them in input order."""
        body = {"messages": [message_input(m) for m in messages]}
        data = await self._write(Call("POST", "/v1/messages/batch", json=body), idempotency_key)
        return [from_json(Message, m) for m in data["created"]]

    async def get_message(self, message_id: str) -> Message:
        """A message with its indexing status (``error`` says why when ``failed``)."""
        return await self._model(Message, Call("GET", f"/v1/messages/{segment(message_id)}", resend=True))

    def _list_params(
        self,
        tenant_id: str,
        conversation_id: Optional[str],
        role: Union[Role, Sequence[Role], None],
        status: Union[MessageStatus, Sequence[MessageStatus], None],
        created_after: Optional[TimeLike],
        created_before: Optional[TimeLike],
        order: Optional[Order],
        limit: Optional[int],
        cursor: Optional[str],
    ) -> Dict[str, Any]:
        return compact(
            {
                "tenant_id": tenant_id,
                "conversation_id": conversation_id,
                "role": comma_list(role),
                "status": comma_list(status),
                "created_after": iso(created_after),
                "created_before": iso(created_before),
                "order": order,
                "limit": limit,
                "cursor": cursor,
            }
        )

    async def list_messages(
        self,
        tenant_id: str,
        *,
        conversation_id: Optional[str] = None,
        role: Union[Role, Sequence[Role], None] = None,
        status: Union[MessageStatus, Sequence[MessageStatus], None] = None,
        created_after: Optional[TimeLike] = None,
        created_before: Optional[TimeLike] = None,
        order: Optional[Order] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> MessagePage:
        """One page of a tenant's (or a conversation's) messages; pass ``next_cursor`` as ``cursor`` for the next."""
        params = self._list_params(tenant_id, conversation_id, role, status, created_after, created_before, order, limit, cursor)
        return await self._model(MessagePage, Call("GET", "/v1/messages", params=params, resend=True))

    async def iter_messages(
        self,
        tenant_id: str,
        *,
        conversation_id: Optional[str] = None,
        role: Union[Role, Sequence[Role], None] = None,
        status: Union[MessageStatus, Sequence[MessageStatus], None] = None,
        created_after: Optional[TimeLike] = None,
        created_before: Optional[TimeLike] = None,
        order: Optional[Order] = None,
        page_size: Optional[int] = None,
    ) -> AsyncIterator[Message]:
        """Every matching message, page after page (a page is fetched when the previous one is used up)."""
        cursor: Optional[str] = None
        while True:
            params = self._list_params(tenant_id, conversation_id, role, status, created_after, created_before, order, page_size, cursor)
            page = await self._model(MessagePage, Call("GET", "/v1/messages", params=params, resend=True))
            for message in page.messages:
                yield message
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def update_message(
        self,
        message_id: str,
        *,
        content: Union[str, Unset] = UNSET,
        metadata: Union[Metadata, None, Unset] = UNSET,
        importance: Union[float, Unset] = UNSET,
        ttl_seconds: Union[int, None, Unset] = UNSET,
        expires_at: Union[TimeLike, None, Unset] = UNSET,
    ) -> Message:
        """Updates only the fields given. ``metadata=None`` clears it; ``ttl_seconds=None`` / ``expires_at=None``: never expire.

        New content is embedded again (``pending`` until ``message.indexed``).
        """
        body: Dict[str, Any] = {}
        for name, value in (("content", content), ("metadata", metadata), ("importance", importance), ("ttl_seconds", ttl_seconds)):
            if value is not UNSET:
                body[name] = value
        if expires_at is not UNSET:
            body["expires_at"] = iso(expires_at)
        return await self._model(Message, Call("PATCH", f"/v1/messages/{segment(message_id)}", json=body, resend=True))

    async def delete_message(self, message_id: str) -> None:
        """Deletes a message; it leaves search and history at once."""
        await self._send(Call("DELETE", f"/v1/messages/{segment(message_id)}", resend=True))

    async def delete_messages(
        self,
        tenant_id: str,
        *,
        conversation_id: Optional[str] = None,
        created_after: Optional[TimeLike] = None,
        created_before: Optional[TimeLike] = None,
        metadata: Optional[Mapping[str, Union[str, int, float, bool]]] = None,
    ) -> Job:
        """Deletes a tenant's messages matching a filter (all given conditions), in a job; see :meth:`wait_for_job`."""
        body = compact(
            {
                "tenant_id": tenant_id,
                "conversation_id": conversation_id,
                "created_after": iso(created_after),
                "created_before": iso(created_before),
                "metadata": dict(metadata) if metadata is not None else None,
            }
        )
        return await self._model(Job, Call("POST", "/v1/messages/delete", json=body))

    async def wait_for_indexed(self, messages: Iterable[Union[str, Message]], *, timeout: float = 60.0, poll_interval: float = 0.2) -> List[Message]:
        """Waits until every message (ids or :class:`Message`) is ``indexed``; answers them, in order.

        Raises :class:`MemoryMeshError` with code ``indexing_failed`` (the message's ``error``) when one
        fails, ``timeout`` when some are still pending after ``timeout`` seconds.
        """
        ids = ids_of(messages)
        deadline = monotonic() + timeout
        done: Dict[str, Message] = {}
        while True:
            for message_id in ids:
                if message_id in done:
                    continue
                message = await self.get_message(message_id)
                if message.status == "indexed":
                    done[message_id] = message
                elif message.status == "failed":
                    raise MemoryMeshError(
                        f"message {message_id} failed to index: {message.error}",
                        code="indexing_failed",
                        details={"id": message_id, "error": message.error},
                    )
            if len(done) == len(set(ids)):
                return [done[i] for i in ids]
            left = deadline - monotonic()
            if left <= 0:
                pending = [i for i in dict.fromkeys(ids) if i not in done]
                raise MemoryMeshError(f"{len(pending)} message(s) not indexed after {timeout}s", code="timeout", details={"pending": pending})
            await sleep(min(poll_interval, left))

    # ------------------------------------------------------------------ conversations

    async def upsert_conversation(self, tenant_id: str, conversation_id: str, *, title: Optional[str] = None, metadata: Optional[Metadata] = None) -> Conversation:
        """Creates a conversation or sets its title / metadata (storing a message creates it too)."""
        body = compact({"tenant_id": tenant_id, "conversation_id": conversation_id, "title": title, "metadata": metadata})
        return await self._model(Conversation, Call("POST", "/v1/conversations", json=body, resend=True))

    async def list_conversations(self, tenant_id: str, *, limit: Optional[int] = None, offset: Optional[int] = None) -> ConversationPage:
        """A tenant's conversations, newest activity first (``limit`` 1-200, default 20)."""
        params = compact({"tenant_id": tenant_id, "limit": limit, "offset": offset})
        return await self._model(ConversationPage, Call("GET", "/v1/conversations", params=params, resend=True))

    async def get_conversation(self, conversation_id: str, *, tenant_id: Optional[str] = None) -> Conversation:
        """One conversation (give ``tenant_id`` when the id exists in several tenants: 409 otherwise)."""
        params = compact({"tenant_id": tenant_id})
        return await self._model(Conversation, Call("GET", f"/v1/conversations/{segment(conversation_id)}", params=params, resend=True))

    async def conversation_history(
        self, conversation_id: str, *, tenant_id: Optional[str] = None, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> ConversationHistory:
        """A conversation's messages, oldest first (``limit`` 1-1000, default 100)."""
        params = compact({"tenant_id": tenant_id, "limit": limit, "offset": offset})
        return await self._model(ConversationHistory, Call("GET", f"/v1/conversations/{segment(conversation_id)}/messages", params=params, resend=True))

    async def delete_conversation(self, conversation_id: str, *, tenant_id: Optional[str] = None) -> None:
        """Deletes a conversation with all its messages and vectors."""
        params = compact({"tenant_id": tenant_id})
        await self._send(Call("DELETE", f"/v1/conversations/{segment(conversation_id)}", params=params, resend=True))

    # ------------------------------------------------------------------ memory

    async def search(
        self,
        tenant_id: str,
        query: str,
        *,
        top_k: Optional[int] = None,
        mode: Optional[SearchMode] = None,
        conversation_id: Optional[str] = None,
        min_importance: Optional[float] = None,
        role: Union[Role, Sequence[Role], None] = None,
        created_after: Optional[TimeLike] = None,
        created_before: Optional[TimeLike] = None,
        metadata: Optional[Mapping[str, Union[str, int, float, bool]]] = None,
        min_score: Optional[float] = None,
        recency_half_life_days: Optional[float] = None,
        recency_weight: Optional[float] = None,
        importance_weight: Optional[float] = None,
        explain: Optional[bool] = None,
        context: Optional[int] = None,
    ) -> List[SearchResult]:
        """Searches a tenant's indexed messages, best first (``POST /v1/memory/search``).

        ``mode``: ``hybrid`` (default), ``semantic`` or ``keyword``. Filters combine. ``explain``
        adds each result's score components, ``context=N`` up to N neighbouring messages each side.
        """
        body = compact(
            {
                "tenant_id": tenant_id,
                "query": query,
                "top_k": top_k,
                "mode": mode,
                "conversation_id": conversation_id,
                "min_importance": min_importance,
                "role": role if role is None or isinstance(role, str) else list(role),
                "created_after": iso(created_after),
                "created_before": iso(created_before),
                "metadata": dict(metadata) if metadata is not None else None,
                "min_score": min_score,
                "recency_half_life_days": recency_half_life_days,
                "recency_weight": recency_weight,
                "importance_weight": importance_weight,
                "explain": explain,
                "context": context,
            }
        )
        data = await self._json(Call("POST", "/v1/memory/search", json=body, resend=True))
        return [from_json(SearchResult, r) for r in data["results"]]

    async def reindex(self, tenant_id: str, *, mode: Optional[ReindexMode] = None) -> ReindexResult:
        """Queues a tenant's ``failed`` (default), ``pending`` or ``all`` messages for indexing again."""
        return await self._model(ReindexResult, Call("POST", "/v1/memory/reindex", json=compact({"tenant_id": tenant_id, "mode": mode})))

    # ------------------------------------------------------------------ tenants

    async def list_tenants(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> TenantPage:
        """One page of your tenants with their counts (``pending`` 0: everything sent is searchable)."""
        return await self._model(TenantPage, Call("GET", "/v1/tenants", params=compact({"limit": limit, "cursor": cursor}), resend=True))

    async def iter_tenants(self, *, page_size: Optional[int] = None) -> AsyncIterator[TenantSummary]:
        """Every tenant, page after page."""
        cursor: Optional[str] = None
        while True:
            page = await self.list_tenants(limit=page_size, cursor=cursor)
            for tenant in page.tenants:
                yield tenant
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def get_tenant(self, tenant_id: str) -> TenantSummary:
        """One tenant's counts (zeros for a tenant with nothing stored)."""
        return await self._model(TenantSummary, Call("GET", f"/v1/tenants/{segment(tenant_id)}", resend=True))

    async def erase_tenant(self, tenant_id: str) -> Job:
        """Erases every message, conversation, vector and policy of a tenant, in a job; see :meth:`wait_for_job`."""
        return await self._model(Job, Call("DELETE", f"/v1/tenants/{segment(tenant_id)}", resend=True))

    async def get_policy(self, tenant_id: str) -> Policy:
        """A tenant's retention policy."""
        return await self._model(Policy, Call("GET", f"/v1/tenants/{segment(tenant_id)}/policy", resend=True))

    async def set_policy(self, tenant_id: str, retention_days: Optional[int]) -> Policy:
        """Forget a tenant's messages older than ``retention_days`` (by ``created_at``); None removes the policy."""
        return await self._model(Policy, Call("PUT", f"/v1/tenants/{segment(tenant_id)}/policy", json={"retention_days": retention_days}, resend=True))

    async def export_tenant(self, tenant_id: str, *, include_vectors: bool = False) -> AsyncIterator[Dict[str, Any]]:
        """A tenant's export, one parsed NDJSON line at a time, streamed (constant memory).

        Conversation lines (``type: conversation``) first, then messages oldest first; lines are what
        :meth:`import_tenant` takes. The request is sent when iteration starts.
        """
        params = {"include_vectors": "true"} if include_vectors else None
        response = await self._send(Call("GET", f"/v1/tenants/{segment(tenant_id)}/export", params=params, resend=True), stream=True)
        try:
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)
        finally:
            await response.aclose()

    async def export_tenant_to_file(self, tenant_id: str, path: Union[str, "os.PathLike[str]"], *, include_vectors: bool = False, gzip: bool = False) -> int:
        """Streams a tenant's export into a file (gzip-compressed with ``gzip=True``); answers the lines written."""
        params = {"include_vectors": "true"} if include_vectors else None
        response = await self._send(Call("GET", f"/v1/tenants/{segment(tenant_id)}/export", params=params, resend=True), stream=True)
        lines = 0
        try:
            with open_export_file(path, gzip) as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
                    lines += chunk.count(b"\n")
        finally:
            await response.aclose()
        return lines

    async def import_tenant(self, tenant_id: str, source: AsyncNdjsonSource, *, gzip: bool = False) -> ImportReport:
        """Imports NDJSON lines as exported, streamed: from a file path, bytes, a binary file, or an iterable of lines (dicts or strings).

        ``gzip=True`` compresses on the way (a file already gzip is sent as it is). Idempotent by
        message id: a path, bytes, a list or a seekable file is sent again after a 429 or 503 (the
        re-run skips what is in); a one-shot iterator is not, and the error's ``details`` say how far
        it got.
        """
        body = NdjsonBody(source, gzip=gzip)
        return await self._model(ImportReport, Call("POST", f"/v1/tenants/{segment(tenant_id)}/import", body=body, resend=True))

    # ------------------------------------------------------------------ jobs

    async def get_job(self, job_id: str) -> Job:
        """A data job: ``status`` queued, running, completed or failed, and ``deleted`` so far."""
        return await self._model(Job, Call("GET", f"/v1/jobs/{segment(job_id)}", resend=True))

    async def wait_for_job(self, job: Union[str, Job], *, timeout: float = 120.0, poll_interval: float = 0.2) -> Job:
        """Waits until a job is ``completed`` and answers it; raises ``job_failed`` or ``timeout``."""
        job_id = job_id_of(job)
        deadline = monotonic() + timeout
        while True:
            current = await self.get_job(job_id)
            if current.status == "completed":
                return current
            if current.status == "failed":
                raise MemoryMeshError(f"job {job_id} failed: {current.error}", code="job_failed", details={"id": job_id, "error": current.error})
            left = deadline - monotonic()
            if left <= 0:
                raise MemoryMeshError(f"job {job_id} still {current.status} after {timeout}s", code="timeout", details={"id": job_id, "status": current.status})
            await sleep(min(poll_interval, left))

    # ------------------------------------------------------------------ webhooks

    async def create_webhook(
        self,
        url: str,
        events: Sequence[WebhookEventType],
        *,
        tenant_ids: Optional[Sequence[str]] = None,
        enabled: Optional[bool] = None,
        description: Optional[str] = None,
    ) -> CreatedWebhook:
        """Creates a webhook endpoint; its signing ``secret`` is in this answer only (see :func:`verify_webhook`)."""
        body = compact({"url": url, "events": list(events), "tenant_ids": list(tenant_ids) if tenant_ids is not None else None, "enabled": enabled, "description": description})
        return await self._model(CreatedWebhook, Call("POST", "/v1/webhooks", json=body))

    async def list_webhooks(self) -> List[Webhook]:
        """Your webhook endpoints (no secrets)."""
        data = await self._json(Call("GET", "/v1/webhooks", resend=True))
        return [from_json(Webhook, w) for w in data["webhooks"]]

    async def get_webhook(self, webhook_id: str) -> Webhook:
        """One webhook endpoint (``disabled_reason`` says why the server disabled it)."""
        return await self._model(Webhook, Call("GET", f"/v1/webhooks/{segment(webhook_id)}", resend=True))

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        url: Union[str, Unset] = UNSET,
        events: Union[Sequence[WebhookEventType], Unset] = UNSET,
        tenant_ids: Union[Sequence[str], None, Unset] = UNSET,
        enabled: Union[bool, Unset] = UNSET,
        description: Union[str, Unset] = UNSET,
    ) -> Webhook:
        """Changes only the fields given (``tenant_ids=None``: every tenant); ``enabled=True`` also clears ``disabled_reason``."""
        body: Dict[str, Any] = {}
        if url is not UNSET:
            body["url"] = url
        if events is not UNSET:
            body["events"] = list(events)
        if tenant_ids is not UNSET:
            body["tenant_ids"] = list(tenant_ids) if tenant_ids is not None else None
        if enabled is not UNSET:
            body["enabled"] = enabled
        if description is not UNSET:
            body["description"] = description
        return await self._model(Webhook, Call("PATCH", f"/v1/webhooks/{segment(webhook_id)}", json=body, resend=True))

    async def delete_webhook(self, webhook_id: str) -> None:
        """Deletes a webhook endpoint and its delivery log."""
        await self._send(Call("DELETE", f"/v1/webhooks/{segment(webhook_id)}", resend=True))

    async def rotate_webhook_secret(self, webhook_id: str) -> SecretRotation:
        """A new signing secret; the previous one stays valid until ``previous_valid_until`` (both signatures are sent)."""
        return await self._model(SecretRotation, Call("POST", f"/v1/webhooks/{segment(webhook_id)}/rotate-secret"))

    async def test_webhook(self, webhook_id: str) -> WebhookDelivery:
        """Sends a ``webhook.test`` event to this endpoint; answers its delivery."""
        return await self._model(WebhookDelivery, Call("POST", f"/v1/webhooks/{segment(webhook_id)}/test"))

    async def list_webhook_deliveries(self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> DeliveryPage:
        """One page of an endpoint's deliveries, newest first: status, attempts, last answer, latency."""
        params = compact({"limit": limit, "cursor": cursor})
        return await self._model(DeliveryPage, Call("GET", f"/v1/webhooks/{segment(webhook_id)}/deliveries", params=params, resend=True))

    async def iter_webhook_deliveries(self, webhook_id: str, *, page_size: Optional[int] = None) -> AsyncIterator[WebhookDelivery]:
        """Every delivery of an endpoint, newest first, page after page."""
        cursor: Optional[str] = None
        while True:
            page = await self.list_webhook_deliveries(webhook_id, limit=page_size, cursor=cursor)
            for delivery in page.deliveries:
                yield delivery
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def retry_webhook_delivery(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Delivers an event again (same ``webhook-id``), with a new round of attempts."""
        return await self._model(WebhookDelivery, Call("POST", f"/v1/webhooks/{segment(webhook_id)}/deliveries/{segment(delivery_id)}/retry"))

    # ------------------------------------------------------------------ events

    def events(
        self,
        tenant_id: str,
        *,
        conversation_id: Optional[str] = None,
        reconnect: bool = True,
        max_attempts: int = 10,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        open_timeout: float = 10.0,
    ) -> AsyncEventStream:
        """The tenant's (or one conversation's) events: ``message.created``, ``indexed``, ``failed``, ``updated``, ``deleted``.

        Reconnects after drops, 1001 and 4001 (refreshing the token), with backoff; at most
        ``max_attempts`` failed attempts in a row (0: no limit). Raises :class:`MemoryMeshError`
        ``api_key_revoked`` (4002) or ``account_deleted`` (4003).
        """
        return AsyncEventStream(
            _AsyncSocketAuth(self),
            events_url(self.base_url, tenant_id, conversation_id),
            reconnect=reconnect,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            open_timeout=open_timeout,
        )


class _AsyncSocketAuth:
    """The client's credentials as an event stream uses them."""

    def __init__(self, client: AsyncMemoryMesh) -> None:
        self._client = client

    async def headers(self) -> Tuple[Dict[str, str], Optional[str]]:
        await self._client._ensure_login()
        return self._client._auth_headers(), (None if self._client.api_key else self._client.access_token)

    async def recover(self, used: Optional[str]) -> bool:
        return await self._client._recover(used)
