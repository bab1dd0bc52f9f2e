"""Event streams over ``GET /ws/messages/{tenant_id}``: an async iterator, and a sync one on a thread.

The stream reconnects by itself when the connection drops or the server closes it with 1001
(shutting down) or 4001 (the credential expired: the access token is refreshed first); it stops
with a :class:`MemoryMeshError` on 4002 (API key revoked) and 4003 (account deleted). Events sent
while it was disconnected are not replayed: the server keeps no backlog (catch up with
``list_messages(created_after=...)`` if you need every one).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import queue
import random
import threading
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Protocol, Tuple
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ._core import segment
from .errors import MemoryMeshError
from .models import MessageEvent, from_json

try:  # websockets >= 13
    _client = importlib.import_module("websockets.asyncio.client")
    _HEADERS_ARG = "additional_headers"
except ImportError:  # websockets 10-12 (Debian 12 ships 10.4)
    _client = importlib.import_module("websockets.legacy.client")
    _HEADERS_ARG = "extra_headers"
_connect: Callable[..., Awaitable[Any]] = _client.connect

log = logging.getLogger("memory_mesh")

#: close codes: reconnect after a fresh credential / stop for good
CLOSE_EXPIRED = 4001
CLOSE_KEY_REVOKED = 4002
CLOSE_ACCOUNT_DELETED = 4003
#: a connection that lived this long (or delivered an event) was healthy: failures count from zero again
_HEALTHY_AFTER_S = 30.0
#: handshake answers worth another try later
_TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


class SocketAuth(Protocol):
    """What a stream needs from its client: headers for the handshake, and a refresh after 401/4001."""

    async def headers(self) -> Tuple[Dict[str, str], Optional[str]]:
        """The credential headers and the access token they carry (None with an API key)."""
        ...

    async def recover(self, used: Optional[str]) -> bool:
        """Refreshes the access token ``used`` (unless already done); False when it cannot."""
        ...


class SyncSocketAuth(Protocol):
    def headers(self) -> Tuple[Dict[str, str], Optional[str]]: ...

    def recover(self, used: Optional[str]) -> bool: ...


def events_url(base_url: str, tenant_id: str, conversation_id: Optional[str]) -> str:
    """``ws(s)://host/ws/messages/{tenant_id}[?conversation_id=]`` from the API's base URL."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    url = f"{base}/ws/messages/{segment(tenant_id)}"
    if conversation_id is not None:
        url += "?" + urlencode({"conversation_id": conversation_id})
    return url


def _handshake_status(error: BaseException) -> Optional[int]:
    """The HTTP status of a refused upgrade, across websockets versions."""
    status = getattr(error, "status_code", None)
    if status is None:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
    return int(status) if status is not None else None


def _close_of(closed: ConnectionClosed) -> Tuple[int, str]:
    frame = closed.rcvd
    return (frame.code, frame.reason) if frame is not None else (1006, "")


class AsyncEventStream:
    """Events of a tenant (or one conversation), as :class:`MessageEvent` objects.

    Use as ``async with client.events("my-app") as stream: async for event in stream: ...``
    (entering the block connects, so whatever you do inside is seen), or iterate it directly.
    ``reconnects`` counts the connections made again after the first.
    """

    def __init__(
        self,
        auth: SocketAuth,
        url: str,
        *,
        reconnect: bool = True,
        max_attempts: int = 10,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        open_timeout: float = 10.0,
    ) -> None:
        self._auth = auth
        self.url = url
        self._reconnect = reconnect
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._open_timeout = open_timeout
        self._ws: Any = None
        self._used: Optional[str] = None
        self._opened_at = 0.0
        self._failures = 0
        self._connections = 0
        self._closed = False
        #: connections made again after the first (drops, 1001, 4001)
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def connect(self) -> None:
        """Opens the socket now (iterating opens it too); raises when it cannot."""
        if self._ws is None and not self._closed:
            await self._open()

    async def aclose(self) -> None:
        """Closes the socket; iteration ends."""
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def __aenter__(self) -> "AsyncEventStream":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> "AsyncEventStream":
        return self

    async def __anext__(self) -> MessageEvent:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._ws is None:
                await self._open()
            ws: Any = self._ws
            try:
                raw = await ws.recv()
            except ConnectionClosed as closed:
                await self._closed_by_peer(closed)
                continue
            self._failures = 0
            try:
                data = json.loads(raw)
            except ValueError:
                log.warning("memory-mesh events: ignoring a frame that is not JSON")
                continue
            return from_json(MessageEvent, data)

    async def _wait_before_retry(self, why: str) -> None:
        self._failures += 1
        if self._max_attempts and self._failures > self._max_attempts:
            raise MemoryMeshError(f"event stream: gave up after {self._max_attempts} attempts to connect ({why})", code="connection_error", details={"url": self.url})
        ceiling = min(self._backoff_max, self._backoff_base * (2 ** (self._failures - 1)))
        delay = random.uniform(ceiling / 2, ceiling)
        log.info("memory-mesh events: reconnecting in %.2fs (%s)", delay, why)
        await asyncio.sleep(delay)

    async def _open(self) -> None:
        refreshed = False
        while True:
            if self._closed:
                raise StopAsyncIteration
            headers, used = await self._auth.headers()
            try:
                ws = await _connect(self.url, open_timeout=self._open_timeout, max_size=2**24, **{_HEADERS_ARG: headers})
            except InvalidHandshake as error:
                status = _handshake_status(error)
                if status == 401 and not refreshed and used is not None and await self._auth.recover(used):
                    refreshed = True
                    continue
                if status is not None and status not in _TRANSIENT_STATUSES:
                    code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, f"http_{status}")
                    raise MemoryMeshError(f"event stream refused: HTTP {status}", status=status, code=code, details={"url": self.url}) from error
                if not self._reconnect:
                    raise MemoryMeshError(f"event stream: cannot connect ({error})", status=status, code="connection_error") from error
                await self._wait_before_retry(f"handshake: {error}")
                continue
            except (OSError, asyncio.TimeoutError) as error:
                if not self._reconnect:
                    raise MemoryMeshError(f"event stream: cannot connect ({error})", code="connection_error") from error
                await self._wait_before_retry(f"connect: {error!r}")
                continue
            if self._closed:
                await ws.close()
                raise StopAsyncIteration
            self._ws, self._used, self._opened_at = ws, used, time.monotonic()
            if self._connections > 0:
                self.reconnects += 1
            self._connections += 1
            return

    async def _closed_by_peer(self, closed: ConnectionClosed) -> None:
        code, reason = _close_of(closed)
        self._ws = None
        if self._closed:
            return
        details = {"close_code": code, "reason": reason}
        if code == CLOSE_KEY_REVOKED:
            raise MemoryMeshError("event stream closed: the API key was revoked", code="api_key_revoked", details=details)
        if code == CLOSE_ACCOUNT_DELETED:
            raise MemoryMeshError("event stream closed: the account was deleted", code="account_deleted", details=details)
        if not self._reconnect:
            raise MemoryMeshError(f"event stream closed ({code} {reason})".strip(), code="connection_closed", details=details)
        if time.monotonic() - self._opened_at >= _HEALTHY_AFTER_S:
            self._failures = 0
        if code == CLOSE_EXPIRED:
            if self._used is None or not await self._auth.recover(self._used):
                raise MemoryMeshError("event stream closed: the credential expired and cannot be refreshed", code="credential_expired", details=details)
            log.info("memory-mesh events: access token refreshed after 4001")
        await self._wait_before_retry(f"closed {code} {reason}".strip())


class _ThreadAuth:
    """A sync client's auth, called from the stream's own event loop (blocking is fine there)."""

    def __init__(self, auth: SyncSocketAuth) -> None:
        self._auth = auth

    async def headers(self) -> Tuple[Dict[str, str], Optional[str]]:
        return self._auth.headers()

    async def recover(self, used: Optional[str]) -> bool:
        return self._auth.recover(used)


class EventStream:
    """The sync client's event stream: an :class:`AsyncEventStream` run on a thread of its own.

    Use as ``with client.events("my-app") as stream: for event in stream: ...``. The thread keeps
    the socket alive (pings answered) while your code handles an event; ``get(timeout)`` waits
    at most that long for the next event.
    """

    def __init__(self, auth: SyncSocketAuth, url: str, **options: Any) -> None:
        self._stream = AsyncEventStream(_ThreadAuth(auth), url, **options)
        self._queue: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._done = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._stream.url

    @property
    def reconnects(self) -> int:
        return self._stream.reconnects

    @property
    def connected(self) -> bool:
        return self._stream.connected

    def connect(self) -> None:
        """Starts the stream's thread and waits until the socket is open (raises if it cannot)."""
        with self._lock:
            if self._thread is not None:
                return
            ready: "queue.Queue[Optional[BaseException]]" = queue.Queue()
            self._thread = threading.Thread(target=self._run, args=(ready,), name="memory-mesh-events", daemon=True)
            self._thread.start()
        error = ready.get()
        if error is not None:
            self._done = True
            raise error

    def _run(self, ready: "queue.Queue[Optional[BaseException]]") -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._pump(ready))
            loop.run_until_complete(self._finish())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _pump(self, ready: "queue.Queue[Optional[BaseException]]") -> None:
        try:
            await self._stream.connect()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            ready.put(error if not isinstance(error, StopAsyncIteration) else None)
            return
        ready.put(None)
        try:
            async for event in self._stream:
                self._queue.put(("event", event))
            self._queue.put(("end", None))
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
            self._queue.put(("error", error))

    def _close_soon(self) -> None:
        asyncio.ensure_future(self._stream.aclose())

    async def _finish(self) -> None:
        """As asyncio.run does: what is left (websockets closing its connection) ends before the loop."""
        await self._stream.aclose()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def get(self, timeout: Optional[float] = None) -> Optional[MessageEvent]:
        """The next event; None after ``timeout`` seconds without one. Raises what stopped the stream."""
        if self._done:
            raise StopIteration
        self.connect()
        try:
            kind, value = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if kind == "event":
            return value  # type: ignore[no-any-return]
        self._done = True
        if kind == "error":
            raise value
        raise StopIteration

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> MessageEvent:
        event = self.get()
        assert event is not None
        return event

    def close(self) -> None:
        """Closes the socket and ends the thread."""
        self._done = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(self._close_soon)
            except RuntimeError:  # the loop already ended by itself
                pass
            thread.join(timeout=10)

    def __enter__(self) -> "EventStream":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
