"""The client's own logic, against scripted answers (httpx.MockTransport): no server needed.

Retry decisions, idempotency keys, error parsing, result models, NDJSON bodies, the wait helpers'
failure paths (a message that fails to index cannot be produced on demand by the real server).
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import httpx

from memory_mesh import AsyncMemoryMesh, MemoryMesh, MemoryMeshError, Message, MessageEvent, RetryPolicy, SearchResult, sign_webhook, verify_webhook
from memory_mesh._core import NdjsonBody
from memory_mesh.events import events_url
from memory_mesh.models import from_json

FAST = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.004)
MESSAGE = {
    "id": "m1", "tenant_id": "t", "conversation_id": "c", "role": "user", "content": "hi", "importance": 0.5, "metadata": None,
    "status": "pending", "created_at": "2026-11-25T12:00:00.000Z", "indexed_at": None, "error": None, "expires_at": None, "updated_at": None,
}
Handler = Callable[[httpx.Request], httpx.Response]


def error(status: int, code: str, headers: Optional[Dict[str, str]] = None) -> httpx.Response:
    return httpx.Response(status, json={"message": f"{code} happened", "code": code, "request_id": "rid-1"}, headers=headers)


class Script:
    """Answers requests from a list (the last answer repeats) and keeps what was sent."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: List[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):  # a fresh copy: a response is read once
            return httpx.Response(answer.status_code, headers=answer.headers, content=answer.read())
        return answer(request)


def sync_client(script: Script, **options: Any) -> MemoryMesh:
    options.setdefault("retry", FAST)
    options.setdefault("api_key", "mm_test")
    return MemoryMesh("http://mesh.test", transport=httpx.MockTransport(script), **options)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def with_async(script: Script, fn: Callable[[AsyncMemoryMesh], Any], **options: Any) -> Any:
    options.setdefault("retry", FAST)
    options.setdefault("api_key", "mm_test")
    async with AsyncMemoryMesh("http://mesh.test", transport=httpx.MockTransport(script), **options) as mm:
        return await fn(mm)


class RetryPolicyTest(unittest.TestCase):
    def test_backoff_grows_with_jitter_and_is_capped(self) -> None:
        policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0)
        for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
            delays = [policy.backoff(attempt) for _ in range(50)]
            self.assertTrue(all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays)))
            self.assertGreater(len(set(delays)), 1, "jittered")

    def test_decisions(self) -> None:
        policy = RetryPolicy(max_attempts=3, max_retry_after=10)
        self.assertEqual(policy.after_status(1, 429, 2.0), 2.0)
        self.assertIsNone(policy.after_status(1, 429, 11.0), "longer than max_retry_after: surface the 429")
        self.assertIsNotNone(policy.after_status(2, 503, None))
        self.assertIsNone(policy.after_status(3, 503, None), "bounded")
        for status in (400, 401, 403, 404, 409, 413, 415, 422, 500, 502):
            self.assertIsNone(policy.after_status(1, status, 1.0), status)
        self.assertIsNotNone(policy.after_error(1))
        self.assertIsNone(policy.after_error(3))


class RetriesTest(unittest.TestCase):
    def test_503_is_retried_with_backoff_then_succeeds(self) -> None:
        script = Script(error(503, "service_unavailable"), error(503, "service_unavailable"), httpx.Response(200, json={"status": "ok"}))
        self.assertEqual(sync_client(script).health().status, "ok")
        self.assertEqual(len(script.requests), 3)

    def test_503_attempts_are_bounded(self) -> None:
        script = Script(error(503, "service_unavailable"))
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).get_tenant("t")
        self.assertEqual((caught.exception.status, caught.exception.code), (503, "service_unavailable"))
        self.assertEqual(len(script.requests), FAST.max_attempts)

    def test_other_4xx_and_5xx_are_never_retried(self) -> None:
        for status in (400, 401, 403, 404, 409, 413, 500):
            script = Script(error(status, f"code_{status}"))
            with self.assertRaises(MemoryMeshError) as caught:
                sync_client(script).get_tenant("t")
            self.assertEqual(caught.exception.status, status)
            self.assertEqual(len(script.requests), 1, status)

    def test_429_waits_retry_after_unless_too_long(self) -> None:
        script = Script(error(429, "rate_limited", {"retry-after": "0"}), httpx.Response(200, json={"status": "ok"}))
        self.assertEqual(sync_client(script).health().status, "ok")
        self.assertEqual(len(script.requests), 2)
        script = Script(error(429, "rate_limited", {"retry-after": "900"}))
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).health()
        self.assertEqual((caught.exception.status, caught.exception.retry_after, len(script.requests)), (429, 900.0, 1))

    def test_no_answer_is_retried_only_when_safe(self) -> None:
        down = httpx.ConnectError("refused")
        script = Script(down, down, httpx.Response(200, json={"status": "ok"}))
        self.assertEqual(sync_client(script).health().status, "ok", "a read is sent again")
        script = Script(down)
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).register("a@example.com", "abc", "SecurePass123")
        self.assertEqual((caught.exception.status, caught.exception.code, len(script.requests)), (None, "connection_error", 1))
        script = Script(down)
        with self.assertRaises(MemoryMeshError):
            sync_client(script, api_key=None, refresh_token="rt_x").refresh()
        self.assertEqual(len(script.requests), 1, "a refresh token is spent on first use: never sent twice")
        script = Script(down)
        with self.assertRaises(MemoryMeshError):
            sync_client(script, idempotency_keys=False).store_message("t", "c", "user", "hi")
        self.assertEqual(len(script.requests), 1, "a write without an Idempotency-Key is never sent twice")

    def test_async_client_retries_alike(self) -> None:
        script = Script(error(503, "service_unavailable"), error(429, "rate_limited", {"retry-after": "0"}), httpx.Response(200, json={"status": "ok"}))
        health = run(with_async(script, lambda mm: mm.health()))
        self.assertEqual((health.status, len(script.requests)), ("ok", 3))
        script = Script(error(404, "not_found"))
        with self.assertRaises(MemoryMeshError) as caught:
            run(with_async(script, lambda mm: mm.get_message("nope")))
        self.assertEqual((caught.exception.status, len(script.requests)), (404, 1))


class IdempotencyTest(unittest.TestCase):
    def _check(self, script: Script) -> None:
        keys = [r.headers.get("idempotency-key") for r in script.requests]
        self.assertEqual(len(keys), 4)
        self.assertTrue(all(keys), keys)
        self.assertEqual(keys[0], keys[1], "the same key on a retry")
        self.assertEqual(keys[2], keys[3], "the same key on a retry")
        self.assertNotEqual(keys[0], keys[2], "a fresh key per call")

    def test_sync_writes(self) -> None:
        script = Script(httpx.ConnectError("reset"), httpx.Response(202, json=MESSAGE), error(503, "not_replicated"), httpx.Response(202, json={"created": [MESSAGE]}))
        mm = sync_client(script)
        self.assertEqual(mm.store_message("t", "c", "user", "hi").id, "m1")
        self.assertEqual([m.id for m in mm.store_messages([{"tenant_id": "t", "conversation_id": "c", "role": "user", "content": "hi"}])], ["m1"])
        self._check(script)
        self.assertEqual([r.url.path for r in script.requests], ["/v1/messages", "/v1/messages", "/v1/messages/batch", "/v1/messages/batch"])

    def test_async_writes(self) -> None:
        script = Script(httpx.ReadError("reset"), httpx.Response(202, json=MESSAGE), error(503, "not_replicated"), httpx.Response(202, json={"created": [MESSAGE]}))

        async def calls(mm: AsyncMemoryMesh) -> None:
            await mm.store_message("t", "c", "user", "hi")
            await mm.store_messages([{"tenant_id": "t", "conversation_id": "c", "role": "user", "content": "hi"}])

        run(with_async(script, calls))
        self._check(script)

    def test_own_key_and_opt_out(self) -> None:
        script = Script(httpx.Response(202, json=MESSAGE))
        mm = sync_client(script)
        mm.store_message("t", "c", "user", "hi", idempotency_key="order-42")
        self.assertEqual(script.requests[0].headers["idempotency-key"], "order-42")
        sync_client(script, idempotency_keys=False).store_message("t", "c", "user", "hi")
        self.assertNotIn("idempotency-key", script.requests[1].headers)


class ErrorsTest(unittest.TestCase):
    def test_json_error_body(self) -> None:
        body = {"message": "Invalid request: content", "code": "validation_error", "details": [{"field": "content", "message": "too long"}], "request_id": "r-9"}
        script = Script(httpx.Response(400, json=body))
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).store_message("t", "c", "user", "x")
        e = caught.exception
        self.assertEqual((e.status, e.code, e.message, e.details, e.request_id), (400, "validation_error", "Invalid request: content", body["details"], "r-9"))
        self.assertIn("validation_error", str(e))

    def test_body_that_is_not_json(self) -> None:
        script = Script(httpx.Response(502, text="<html>bad gateway</html>", headers={"x-request-id": "r-1"}))
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).get_tenant("t")
        e = caught.exception
        self.assertEqual((e.status, e.code, e.message, e.request_id), (502, "http_502", "<html>bad gateway</html>", "r-1"))

    def test_ready_answers_503_as_a_result(self) -> None:
        body = {"status": "unavailable", "redis": False, "queue": False, "vector_engine": "exact", "vector_index": "x", "embedding_model": "m"}
        script = Script(httpx.Response(503, json=body))
        ready = sync_client(script).ready()
        self.assertEqual((ready.status, ready.redis, len(script.requests)), ("unavailable", False, 1))


class RefreshTest(unittest.TestCase):
    def test_refresh_failure_surfaces_the_401(self) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            return error(401, "unauthorized")

        script = Script(answer)
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script, api_key=None, access_token="a1", refresh_token="r1").me()
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual([r.url.path for r in script.requests], ["/v1/auth/me", "/v1/auth/refresh"])

    def test_a_second_401_surfaces(self) -> None:
        pair = {"access_token": "a2", "refresh_token": "r2", "token_type": "bearer", "expires_in": 900}
        script = Script(error(401, "unauthorized"), httpx.Response(200, json=pair), error(401, "unauthorized"))
        seen: List[str] = []
        mm = sync_client(script, api_key=None, access_token="a1", refresh_token="r1", on_tokens=lambda p: seen.append(p.refresh_token))
        with self.assertRaises(MemoryMeshError) as caught:
            mm.me()
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual([r.url.path for r in script.requests], ["/v1/auth/me", "/v1/auth/refresh", "/v1/auth/me"])
        self.assertEqual([r.headers["authorization"] for r in script.requests if r.url.path == "/v1/auth/me"], ["Bearer a1", "Bearer a2"])
        self.assertEqual((mm.access_token, mm.refresh_token, seen), ("a2", "r2", ["r2"]))

    def test_api_keys_are_not_refreshed(self) -> None:
        script = Script(error(401, "unauthorized"))
        with self.assertRaises(MemoryMeshError):
            sync_client(script, refresh_token="r1").me()
        self.assertEqual(len(script.requests), 1)
        self.assertEqual(script.requests[0].headers["x-api-key"], "mm_test")


class WaitTest(unittest.TestCase):
    def test_failed_message(self) -> None:
        failed = {**MESSAGE, "status": "failed", "error": "embedding provider said no"}
        script = Script(httpx.Response(200, json=failed))
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).wait_for_indexed(["m1"], timeout=5)
        e = caught.exception
        self.assertEqual((e.code, e.details["error"]), ("indexing_failed", "embedding provider said no"))
        self.assertIn("embedding provider said no", e.message)
        with self.assertRaises(MemoryMeshError) as caught:
            run(with_async(script, lambda mm: mm.wait_for_indexed(["m1"], timeout=5)))
        self.assertEqual(caught.exception.code, "indexing_failed")

    def test_timeout(self) -> None:
        script = Script(httpx.Response(200, json=MESSAGE))
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).wait_for_indexed(["m1"], timeout=0.05, poll_interval=0.01)
        self.assertEqual((caught.exception.code, caught.exception.details), ("timeout", {"pending": ["m1"]}))

    def test_jobs(self) -> None:
        job = {"id": "dj-1", "kind": "delete", "tenant_id": "t", "filter": None, "status": "running", "deleted": 3, "created_at": "x", "started_at": "x", "finished_at": None, "error": None}
        script = Script(httpx.Response(200, json=job))
        with self.assertRaises(MemoryMeshError) as caught:
            sync_client(script).wait_for_job("dj-1", timeout=0.05, poll_interval=0.01)
        self.assertEqual(caught.exception.code, "timeout")
        script = Script(httpx.Response(200, json={**job, "status": "failed", "error": "boom"}))
        with self.assertRaises(MemoryMeshError) as caught:
            run(with_async(script, lambda mm: mm.wait_for_job("dj-1")))
        self.assertEqual((caught.exception.code, caught.exception.details["error"]), ("job_failed", "boom"))


class ModelsTest(unittest.TestCase):
    def test_unknown_fields_ignored_missing_ones_none_nested_converted(self) -> None:
        message = from_json(Message, {**MESSAGE, "from_a_newer_server": 1})
        self.assertEqual(message.id, "m1")
        partial = from_json(Message, {"id": "m2"})
        self.assertEqual((partial.id, partial.content), ("m2", None))
        result = from_json(SearchResult, {
            "id": "m1", "content": "hi", "score": 0.5, "role": "user", "conversation_id": "c", "tenant_id": "t", "importance": 0.5, "metadata": None, "created_at": "x",
            "explain": {"semantic": {"rank": 1, "similarity": 0.9, "contribution": 0.5}, "keyword": None, "recency": {"value": 1, "contribution": 0}, "importance": {"value": 0.5, "contribution": 0}},
            "context": {"before": [{"id": "m0", "role": "user", "content": "x", "created_at": "x"}], "after": []},
        })
        assert result.explain is not None and result.explain.semantic is not None and result.context is not None
        self.assertEqual((result.explain.semantic.rank, result.explain.keyword, result.context.before[0].id), (1, None, "m0"))
        event = from_json(MessageEvent, {"type": "message.deleted", "tenant_id": "t", "conversation_id": "c", "message": MESSAGE, "ts": "x", "reason": "filter"})
        self.assertEqual((event.message.id, event.reason), ("m1", "filter"))


class NdjsonTest(unittest.TestCase):
    LINES = [{"type": "message", "conversation_id": "c", "role": "user", "content": "héllo"}, '{"type":"conversation","conversation_id":"c"}', b'{"conversation_id":"c","role":"user","content":"x"}\n']

    def test_lines_and_gzip(self) -> None:
        plain = b"".join(NdjsonBody(self.LINES).chunks())
        self.assertEqual([json.loads(line) for line in plain.splitlines()][0]["content"], "héllo")
        self.assertEqual(plain.count(b"\n"), 3)
        body = NdjsonBody(self.LINES, gzip=True)
        self.assertEqual(body.content_encoding, "gzip")
        self.assertEqual(gzip.decompress(b"".join(body.chunks())), plain)

    def test_sources(self) -> None:
        plain = b"".join(NdjsonBody(self.LINES).chunks())
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.ndjson.gz"
            path.write_bytes(gzip.compress(plain))
            body = NdjsonBody(str(path), gzip=True)
            self.assertEqual((body.content_encoding, body.replayable), ("gzip", True))
            self.assertEqual(gzip.decompress(b"".join(body.chunks())), plain, "a gzip file is sent as it is, not compressed twice")
        self.assertIsNone(NdjsonBody(plain).content_encoding)
        self.assertTrue(NdjsonBody(io.BytesIO(plain)).replayable)
        one_shot = NdjsonBody(iter(self.LINES))
        self.assertFalse(one_shot.replayable)
        self.assertEqual(b"".join(one_shot.chunks()), plain)

    def test_async_iterable_source(self) -> None:
        async def lines() -> Any:
            for line in self.LINES:
                yield line

        async def collect() -> bytes:
            return b"".join([c async for c in NdjsonBody(lines(), gzip=True).achunks()])

        self.assertEqual(gzip.decompress(run(collect())), b"".join(NdjsonBody(self.LINES).chunks()))


class UrlsTest(unittest.TestCase):
    def test_paths_and_event_urls(self) -> None:
        script = Script(httpx.Response(204))
        sync_client(script).delete_conversation("a/b c?ü", tenant_id="t 1")
        self.assertEqual(script.requests[0].url.raw_path.decode(), "/v1/conversations/a%2Fb%20c%3F%C3%BC?tenant_id=t+1")
        self.assertEqual(events_url("https://mesh.example/api/", "my app", None), "wss://mesh.example/api/ws/messages/my%20app")
        self.assertEqual(events_url("http://h:8000", "t", "c/1"), "ws://h:8000/ws/messages/t?conversation_id=c%2F1")


class WebhookSignatureTest(unittest.TestCase):
    # The example of the Standard Webhooks specification
    SECRET, ID, TS, BODY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'
    SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    def test_the_specification_example(self) -> None:
        self.assertEqual(sign_webhook(self.SECRET, self.ID, self.TS, self.BODY), self.SIGNATURE)
        headers = {"Webhook-Id": self.ID, "Webhook-Timestamp": str(self.TS), "Webhook-Signature": f"v1,bm90IGl0 {self.SIGNATURE}"}
        self.assertEqual(verify_webhook(self.SECRET, headers, self.BODY.encode(), now=self.TS + 10), {"test": 2432232314})

    def test_refusals(self) -> None:
        headers = {"webhook-id": self.ID, "webhook-timestamp": str(self.TS), "webhook-signature": self.SIGNATURE}
        cases = [
            ({**headers, "webhook-signature": "v1,AAAA"}, self.BODY, self.TS),
            (headers, self.BODY + " ", self.TS),
            (headers, self.BODY, self.TS + 301),
            ({k: v for k, v in headers.items() if k != "webhook-id"}, self.BODY, self.TS),
            ({**headers, "webhook-timestamp": "soon"}, self.BODY, self.TS),
        ]
        for given, body, now in cases:
            with self.assertRaises(MemoryMeshError) as caught:
                verify_webhook(self.SECRET, given, body, now=now)
            self.assertEqual(caught.exception.code, "invalid_webhook_signature")


class GeneratedClientTest(unittest.TestCase):
    def test_sync_client_is_generated_from_the_async_one(self) -> None:
        script = Path(__file__).resolve().parent.parent / "scripts" / "unasync.py"
        done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_same_public_methods(self) -> None:
        names = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
        self.assertEqual(names(MemoryMesh) ^ names(AsyncMemoryMesh), {"close", "aclose"})


if __name__ == "__main__":
    unittest.main()
