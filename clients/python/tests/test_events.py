"""Event streams against the real server: the async iterator and the sync one, filters, credentials,
reconnection after a drop, 1001 and 4001 (through FaultProxy), and the end of a stream on 4002 / 4003."""

from __future__ import annotations

import asyncio
import time
import unittest
from typing import Any, Callable, List, Optional, Tuple

from memory_mesh import AsyncEventStream, AsyncMemoryMesh, MemoryMesh, MemoryMeshError, MessageEvent

from proxy import FaultProxy
from support import BASE_URL, FAST_RETRY, PASSWORD, AsyncRecordingTransport, Recorder, RecordingTransport, eventually, eventually_async, need_server, unique

DEADLINE = 30.0


async def new_async_account(recorder: Recorder, base_url: str = "") -> Tuple[AsyncMemoryMesh, str]:
    name = unique("pyev").replace("-", "_")
    mm = AsyncMemoryMesh(base_url or BASE_URL, transport=AsyncRecordingTransport(recorder), retry=FAST_RETRY)
    await mm.register(f"{name}@example.com", name, PASSWORD)
    await mm.login(f"{name}@example.com", PASSWORD)
    return mm, name


class Collector:
    """Reads a stream in a task of its own (as an application would) and hands out the events it saw."""

    def __init__(self, stream: AsyncEventStream) -> None:
        self.stream = stream
        self.events: List[MessageEvent] = []
        self.error: Optional[BaseException] = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for event in self.stream:
                self.events.append(event)
        except Exception as error:  # noqa: BLE001 - the test looks at it
            self.error = error

    async def wait_for(self, what: str, match: Callable[[MessageEvent], bool]) -> MessageEvent:
        def found() -> Any:
            if self.error is not None:
                raise self.error
            return next((e for e in self.events if match(e)), None)

        return await eventually_async(what, found, DEADLINE)  # type: ignore[no-any-return]

    async def ended(self) -> Optional[BaseException]:
        await asyncio.wait_for(self.task, DEADLINE)
        return self.error


def event_of(kind: str, message_id: str) -> Callable[[MessageEvent], bool]:
    return lambda e: e.type == kind and e.message.id == message_id


class AsyncEventsTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        need_server()
        self.recorder = Recorder("async")

    async def test_iterate_until_indexed_then_updated_and_deleted(self) -> None:
        mm, _ = await new_async_account(self.recorder)
        tenant = unique("t")
        async with mm, mm.events(tenant) as stream:
            self.assertTrue(stream.connected)
            stored = await mm.store_message(tenant, "c", "user", "I adopted a golden retriever")
            seen: List[MessageEvent] = []
            async with asyncio.timeout(DEADLINE) if hasattr(asyncio, "timeout") else _nullcontext():
                async for event in stream:
                    seen.append(event)
                    if event.type == "message.indexed" and event.message.id == stored.id:
                        break
            self.assertEqual([(e.type, e.message.id, e.tenant_id, e.conversation_id) for e in seen], [("message.created", stored.id, tenant, "c"), ("message.indexed", stored.id, tenant, "c")])
            self.assertEqual(seen[-1].message.status, "indexed")
            self.assertTrue(seen[-1].ts)
            self.assertTrue(all(e.id.startswith("evt_") for e in seen) and seen[0].id != seen[1].id, [e.id for e in seen])

            collector = Collector(stream)
            await mm.update_message(stored.id, importance=0.9)
            updated = await collector.wait_for("message.updated", event_of("message.updated", stored.id))
            self.assertEqual(updated.message.importance, 0.9)
            await mm.delete_message(stored.id)
            deleted = await collector.wait_for("message.deleted", event_of("message.deleted", stored.id))
            self.assertEqual(deleted.reason, "deleted")
        self.assertIsNone(await collector.ended(), "closing the stream ends iteration")

    async def test_conversation_filter(self) -> None:
        mm, _ = await new_async_account(self.recorder)
        tenant = unique("t")
        async with mm, mm.events(tenant, conversation_id="wanted") as stream:
            collector = Collector(stream)
            other = await mm.store_message(tenant, "other", "user", "not for this stream")
            wanted = await mm.store_message(tenant, "wanted", "user", "for this stream")
            await collector.wait_for("the wanted conversation's message", event_of("message.indexed", wanted.id))
            self.assertNotIn(other.id, {e.message.id for e in collector.events})

    async def test_api_key_stream_ends_when_the_key_is_revoked(self) -> None:
        mm, _ = await new_async_account(self.recorder)
        tenant = unique("t")
        key = await mm.create_api_key("events", tenant_ids=[tenant], scopes=["read", "write"])
        async with mm, AsyncMemoryMesh(BASE_URL, api_key=key.key, retry=FAST_RETRY) as keyed:
            stream = keyed.events(tenant)
            await stream.connect()
            collector = Collector(stream)
            stored = await keyed.store_message(tenant, "c", "user", "hello over an API key")
            await collector.wait_for("created", event_of("message.created", stored.id))
            await mm.revoke_api_key(key.id)
            error = await collector.ended()
            self.assertIsInstance(error, MemoryMeshError)
            assert isinstance(error, MemoryMeshError)
            self.assertEqual((error.code, error.details["close_code"]), ("api_key_revoked", 4002))

            with self.assertRaises(MemoryMeshError) as caught:
                await keyed.events(tenant).connect()
            self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))
            restricted = await mm.create_api_key("elsewhere", tenant_ids=[unique("t")])
            async with AsyncMemoryMesh(BASE_URL, api_key=restricted.key) as other:
                with self.assertRaises(MemoryMeshError) as caught:
                    await other.events(tenant).connect()
                self.assertEqual((caught.exception.status, caught.exception.code), (403, "forbidden"))

    async def test_stream_ends_when_the_account_is_deleted(self) -> None:
        mm, _ = await new_async_account(self.recorder)
        async with mm, mm.events(unique("t")) as stream:
            collector = Collector(stream)
            await mm.delete_account(PASSWORD)
            error = await collector.ended()
            assert isinstance(error, MemoryMeshError)
            self.assertEqual((error.code, error.details["close_code"]), ("account_deleted", 4003))

    async def test_invalid_access_token_is_refreshed_before_the_upgrade(self) -> None:
        mm, _ = await new_async_account(self.recorder)
        mm.access_token = "invalid"
        async with mm, mm.events(unique("t")) as stream:
            self.assertTrue(stream.connected)
            self.assertEqual(len(self.recorder.to("POST", "/v1/auth/refresh")), 1)

    async def test_reconnects_after_a_drop_1001_and_4001(self) -> None:
        proxy = FaultProxy(BASE_URL)
        self.addCleanup(proxy.stop)
        mm, _ = await new_async_account(self.recorder, proxy.url)
        tenant = unique("t")
        async with mm:
            stream = mm.events(tenant, backoff_base=0.05, backoff_max=0.2)
            await stream.connect()
            collector = Collector(stream)
            first = await mm.store_message(tenant, "c", "user", "before any fault")
            await collector.wait_for("first created", event_of("message.created", first.id))

            refreshes = len(self.recorder.to("POST", "/v1/auth/refresh"))
            refresh_token = mm.refresh_token
            for reconnects, fault in enumerate(["drop", 1001, 4001], start=1):
                closed = proxy.drop_websockets() if fault == "drop" else proxy.close_websockets(int(fault), "test fault")
                self.assertEqual(closed, 1)
                await eventually_async(f"reconnected after {fault}", lambda: stream.reconnects == reconnects and proxy.open_websockets() == 1)
                after = await mm.store_message(tenant, "c", "user", f"after {fault}")
                await collector.wait_for(f"created after {fault}", event_of("message.created", after.id))

            self.assertEqual(len(self.recorder.to("POST", "/v1/auth/refresh")), refreshes + 1, "4001: one refresh before reconnecting")
            self.assertNotEqual(mm.refresh_token, refresh_token)
            self.assertEqual(proxy.websockets_opened, 4)
            await stream.aclose()
            self.assertIsNone(await collector.ended())


class SyncEventsTest(unittest.TestCase):
    def setUp(self) -> None:
        need_server()
        self.recorder = Recorder("sync")

    def account(self, base_url: str = "") -> MemoryMesh:
        name = unique("pyevs").replace("-", "_")
        mm = MemoryMesh(base_url or BASE_URL, transport=RecordingTransport(self.recorder), retry=FAST_RETRY)
        self.addCleanup(mm.close)
        mm.register(f"{name}@example.com", name, PASSWORD)
        mm.login(f"{name}@example.com", PASSWORD)
        return mm

    def test_sync_iteration_until_indexed(self) -> None:
        mm = self.account()
        tenant = unique("t")
        with mm.events(tenant) as stream:
            stored = mm.store_message(tenant, "c", "user", "a sync subscriber")
            deadline = time.monotonic() + DEADLINE
            types = []
            for event in stream:
                if event.message.id == stored.id:
                    types.append(event.type)
                if event.type == "message.indexed" or time.monotonic() > deadline:
                    break
            self.assertEqual(types, ["message.created", "message.indexed"])
            self.assertIsNone(stream.get(timeout=0.01), "nothing more came")

    def test_sync_reconnect_and_revocation(self) -> None:
        proxy = FaultProxy(BASE_URL)
        self.addCleanup(proxy.stop)
        mm = self.account(proxy.url)
        tenant = unique("t")
        key = mm.create_api_key("sync-events", tenant_ids=[tenant])
        keyed = MemoryMesh(proxy.url, api_key=key.key, retry=FAST_RETRY)
        self.addCleanup(keyed.close)
        stream = keyed.events(tenant, backoff_base=0.05, backoff_max=0.2)
        self.addCleanup(stream.close)
        stream.connect()
        self.assertEqual(proxy.close_websockets(1001, "shutting down"), 1)
        eventually("reconnected after 1001", lambda: stream.reconnects == 1 and proxy.open_websockets() == 1)
        stored = keyed.store_message(tenant, "c", "user", "after the restart")

        def created() -> Optional[MessageEvent]:
            event = stream.get(timeout=1)
            return event if event is not None and event.message.id == stored.id else None

        self.assertEqual(eventually("created after 1001", created, DEADLINE).type, "message.created")
        mm.revoke_api_key(key.id)
        with self.assertRaises(MemoryMeshError) as caught:
            while True:
                stream.get(timeout=DEADLINE)
        self.assertEqual(caught.exception.code, "api_key_revoked")


class _nullcontext:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    unittest.main()
