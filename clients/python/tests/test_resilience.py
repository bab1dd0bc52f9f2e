"""Retries against the real server: 429 with Retry-After (a server with a tiny rate limit) and a write
whose answer is lost after the server stored it (sent again with the same Idempotency-Key: stored once)."""

from __future__ import annotations

import unittest

import httpx

from memory_mesh import MemoryMeshError, RetryPolicy

from support import RATE_LIMITED_URL, AsyncCase, AsyncDropResponses, DropResponses, SyncCase, unique


def writes(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path in ("/v1/messages", "/v1/messages/batch")


class RateLimitScenarios:
    """On MM_RATE_LIMITED_URL: RATE_LIMIT_REQUESTS=3 per RATE_LIMIT_WINDOW_S=2 and credential."""

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        if not RATE_LIMITED_URL:
            raise unittest.SkipTest("MM_RATE_LIMITED_URL is not set")

    def test_429_is_retried_after_retry_after(self) -> None:
        mm, _ = self.account(RATE_LIMITED_URL, retry=RetryPolicy(max_attempts=5, max_retry_after=10))
        tenant = unique("t")
        for i in range(8):
            self.assertEqual(mm.get_tenant(tenant).tenant_id, tenant, f"call {i}")
        stored = mm.store_message(tenant, "c", "user", "written while rate limited")
        sent = self.recorder.sent
        limited = [i for i, s in enumerate(sent) if s.status == 429]
        self.assertGreaterEqual(len(limited), 2, "8 reads in a few seconds at 3 per 2 s window hit the limit")
        # each 429 was followed by the same call, no sooner than the server's Retry-After
        for i in limited:
            retry_after = float(sent[i].response_headers["retry-after"])
            self.assertTrue(0 < retry_after <= 2, retry_after)
            self.assertEqual((sent[i + 1].method, sent[i + 1].path), (sent[i].method, sent[i].path))
            self.assertGreaterEqual(sent[i + 1].at - sent[i].at, retry_after - 0.05)
        self.assertEqual(mm.get_message(stored.id).content, "written while rate limited")

    def test_429_surfaces_when_retries_are_off(self) -> None:
        mm, _ = self.account(RATE_LIMITED_URL, retry=RetryPolicy(max_attempts=1))
        tenant = unique("t")
        with self.assertRaises(MemoryMeshError) as caught:
            for _ in range(10):
                mm.get_tenant(tenant)
        e = caught.exception
        self.assertEqual((e.status, e.code), (429, "rate_limited"))
        assert e.retry_after is not None
        self.assertTrue(0 < e.retry_after <= 2, e.retry_after)
        self.assertEqual(e.details, {"retry_after": int(e.retry_after)})


class IdempotentRetryScenarios:
    def test_a_lost_answer_is_sent_again_and_stored_once(self) -> None:
        drop_sync, drop_async = DropResponses(writes), AsyncDropResponses(writes)
        mm, _ = self.account(sync_transport=drop_sync, async_transport=drop_async)
        tenant = unique("t")
        message = mm.store_message(tenant, "c", "user", "stored exactly once")
        batch = mm.store_messages([{"tenant_id": tenant, "conversation_id": "c", "role": "user", "content": f"batch {i}"} for i in range(3)])
        dropped = drop_sync.dropped if self.kind == "sync" else drop_async.dropped
        self.assertEqual([r.url.path for r in dropped], ["/v1/messages", "/v1/messages/batch"], "each write's first answer was lost")
        for path in ("/v1/messages", "/v1/messages/batch"):
            keys = {r.headers["idempotency-key"] for r in dropped if r.url.path == path} | {s.headers["idempotency-key"] for s in self.recorder.to("POST", path)}
            self.assertEqual(len(keys), 1, f"{path}: the retry carried the lost attempt's key")
        stored = list(mm.iter_messages(tenant, order="oldest"))
        self.assertEqual([m.content for m in stored], ["stored exactly once", "batch 0", "batch 1", "batch 2"])
        self.assertEqual([m.id for m in stored], [message.id] + [m.id for m in batch], "the answers are the stored messages")

    def test_without_keys_a_lost_answer_is_an_error(self) -> None:
        mm, _ = self.account(idempotency_keys=False, sync_transport=DropResponses(writes), async_transport=AsyncDropResponses(writes))
        tenant = unique("t")
        with self.assertRaises(MemoryMeshError) as caught:
            mm.store_message(tenant, "c", "user", "stored, but the client cannot know")
        self.assertEqual((caught.exception.status, caught.exception.code), (None, "connection_error"))
        self.assertEqual(len(mm.list_messages(tenant).messages), 1, "not sent again: sending it again could store it twice")


class RateLimitSync(RateLimitScenarios, SyncCase):
    pass


class RateLimitAsync(RateLimitScenarios, AsyncCase):
    pass


class IdempotentRetrySync(IdempotentRetryScenarios, SyncCase):
    pass


class IdempotentRetryAsync(IdempotentRetryScenarios, AsyncCase):
    pass


if __name__ == "__main__":
    unittest.main()
