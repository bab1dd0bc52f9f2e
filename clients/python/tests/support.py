"""What the suites share: the servers under test, accounts, clients that record their requests, faults.

Environment (set by test/clients/python-client.test.ts):
  MM_BASE_URL           the API under test (worker and realtime on)
  MM_RATE_LIMITED_URL   a second API with a tiny rate limit (RATE_LIMIT_REQUESTS=3, RATE_LIMIT_WINDOW_S=2)
  MM_REQUEST_LOG        a file every request is appended to, as JSON lines {client, method, path, status}
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import os
import threading
import time
import unittest
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import httpx

from memory_mesh import AsyncMemoryMesh, MemoryMesh, RetryPolicy

BASE_URL = os.environ.get("MM_BASE_URL", "")
RATE_LIMITED_URL = os.environ.get("MM_RATE_LIMITED_URL", "")
REQUEST_LOG = os.environ.get("MM_REQUEST_LOG", "")
PASSWORD = "SecurePass123"
#: fast retries: the suites wait for the server's Retry-After, never for long backoffs
FAST_RETRY = RetryPolicy(max_attempts=6, backoff_base=0.05, backoff_max=0.5)
_counter = itertools.count()
_log_lock = threading.Lock()


def need_server() -> str:
    if not BASE_URL:
        raise unittest.SkipTest("MM_BASE_URL is not set: run through `bun test test/clients/python-client.test.ts`")
    return BASE_URL


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


def eventually(what: str, check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Polls ``check`` until it returns something truthy; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(interval)


async def eventually_async(what: str, check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(interval)


@dataclass
class Sent:
    method: str
    path: str
    status: int
    headers: httpx.Headers
    at: float
    response_headers: httpx.Headers
    json: Any = None


class Recorder:
    """Every request a client sent and the status it got, also appended to MM_REQUEST_LOG."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sent: List[Sent] = []

    def record(self, request: httpx.Request, response: httpx.Response) -> None:
        body: Any = None
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(request.content)
            except (ValueError, httpx.RequestNotRead):
                body = None
        self.sent.append(Sent(request.method, request.url.raw_path.decode().split("?")[0], response.status_code, request.headers, time.monotonic(), response.headers, body))
        if REQUEST_LOG:
            line = json.dumps({"client": self.kind, "method": request.method, "path": request.url.raw_path.decode().split("?")[0], "status": response.status_code})
            with _log_lock, open(REQUEST_LOG, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def to(self, method: str, path: str) -> List[Sent]:
        return [s for s in self.sent if s.method == method and s.path == path]


class RecordingTransport(httpx.BaseTransport):
    def __init__(self, recorder: Recorder, inner: Optional[httpx.BaseTransport] = None) -> None:
        self.recorder = recorder
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.recorder.record(request, response)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, recorder: Recorder, inner: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.recorder = recorder
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.recorder.record(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Dropper:
    """Which answers to lose: the first ``times`` of each path that ``match`` accepts."""

    def __init__(self, match: Callable[[httpx.Request], bool], times: int) -> None:
        self.match = match
        self.times = times
        self.counts: Dict[str, int] = {}
        self.dropped: List[httpx.Request] = []

    def drop(self, request: httpx.Request) -> bool:
        if not self.match(request) or self.counts.get(request.url.path, 0) >= self.times:
            return False
        self.counts[request.url.path] = self.counts.get(request.url.path, 0) + 1
        self.dropped.append(request)
        return True


class DropResponses(httpx.BaseTransport):
    """Lets the server handle matching requests, then loses the answer (as a connection reset would):
    the first ``times`` answers of each matching path."""

    def __init__(self, match: Callable[[httpx.Request], bool], times: int = 1, inner: Optional[httpx.BaseTransport] = None) -> None:
        self._dropper = _Dropper(match, times)
        self.dropped = self._dropper.dropped
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self._dropper.drop(request):
            response.read()
            response.close()
            raise httpx.ReadError("connection reset after the server answered (test fault)", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncDropResponses(httpx.AsyncBaseTransport):
    def __init__(self, match: Callable[[httpx.Request], bool], times: int = 1, inner: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self._dropper = _Dropper(match, times)
        self.dropped = self._dropper.dropped
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self._dropper.drop(request):
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection reset after the server answered (test fault)", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Blocking:
    """Drives an AsyncMemoryMesh from plain test code: coroutines run on the case's loop, async
    iterators become iterators. The shared scenarios run through it, so every endpoint is called
    by the async client exactly as by the sync one."""

    def __init__(self, client: AsyncMemoryMesh, loop: asyncio.AbstractEventLoop) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_loop", loop)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if inspect.iscoroutine(result):
                return self._loop.run_until_complete(result)
            if hasattr(result, "__anext__"):
                return self._iterate(result)
            return result

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)

    def _iterate(self, iterator: Any) -> Any:
        while True:
            try:
                yield self._loop.run_until_complete(iterator.__anext__())
            except StopAsyncIteration:
                return

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())


class ClientCase(unittest.TestCase):
    """A scenario suite run once with MemoryMesh (kind "sync") and once with AsyncMemoryMesh ("async").

    Subclass as ``class XSync(XScenarios, SyncCase)`` / ``class XAsync(XScenarios, AsyncCase)``.
    """

    kind = "sync"
    loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    def setUpClass(cls) -> None:
        need_server()
        if cls.kind == "async":
            cls.loop = asyncio.new_event_loop()

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.loop is not None:
            cls.loop.run_until_complete(cls.loop.shutdown_asyncgens())
            cls.loop.close()
            cls.loop = None

    def client(self, base_url: Optional[str] = None, *, recorder: Optional[Recorder] = None, sync_transport: Optional[httpx.BaseTransport] = None, async_transport: Optional[httpx.AsyncBaseTransport] = None, **options: Any) -> Any:
        """A client of this case's kind; its requests are recorded in ``recorder`` (or ``self.recorder``)."""
        recorder = recorder or self.recorder
        options.setdefault("retry", FAST_RETRY)
        if self.kind == "sync":
            sync_client = MemoryMesh(base_url or BASE_URL, transport=RecordingTransport(recorder, sync_transport), **options)
            self.addCleanup(sync_client.close)
            return sync_client
        assert self.loop is not None
        async_client = Blocking(AsyncMemoryMesh(base_url or BASE_URL, transport=AsyncRecordingTransport(recorder, async_transport), **options), self.loop)
        self.addCleanup(async_client.close)
        return async_client

    def setUp(self) -> None:
        self.recorder = Recorder(self.kind)

    def account(self, base_url: Optional[str] = None, **options: Any) -> Tuple[Any, Dict[str, str]]:
        """A client logged in to a new account of its own, and the account."""
        name = unique(f"py{self.kind}").replace("-", "_")
        creds = {"email": f"{name}@example.com", "username": name[:32], "password": PASSWORD}
        mm = self.client(base_url, **options)
        mm.register(creds["email"], creds["username"], creds["password"])
        mm.login(creds["email"], creds["password"])
        return mm, creds


class SyncCase(ClientCase):
    kind = "sync"


class AsyncCase(ClientCase):
    kind = "async"

