"""Accounts, tokens, API keys and the automatic refresh on 401, with both clients, against the real server."""

from __future__ import annotations

import asyncio
import unittest

from memory_mesh import AsyncMemoryMesh, MemoryMeshError

from support import BASE_URL, FAST_RETRY, PASSWORD, AsyncCase, AsyncRecordingTransport, Recorder, SyncCase, need_server, unique


class AuthScenarios:
    def test_register_login_me_refresh_logout(self) -> None:
        mm = self.client()
        name = unique(f"reg{self.kind}").replace("-", "_")
        user = mm.register(f"{name}@example.com", name, PASSWORD)
        self.assertEqual((user.email, user.username), (f"{name}@example.com", name))
        self.assertTrue(user.id and user.created_at)
        with self.assertRaises(MemoryMeshError) as caught:
            mm.register(f"{name}@example.com", name + "x", PASSWORD)
        e = caught.exception
        self.assertEqual((e.status, e.code), (409, "email_taken"))
        self.assertTrue(e.request_id and e.message)

        pair = mm.login(f"{name}@example.com", PASSWORD)
        self.assertEqual((pair.token_type, mm.access_token, mm.refresh_token), ("bearer", pair.access_token, pair.refresh_token))
        self.assertGreater(pair.expires_in, 0)
        self.assertEqual(mm.me(), user)

        first_refresh = mm.refresh_token
        rotated = mm.refresh()
        self.assertNotEqual(rotated.refresh_token, first_refresh)
        self.assertEqual(mm.refresh_token, rotated.refresh_token, "the new refresh token is kept")
        self.assertEqual(mm.me().id, user.id)

        mm.logout()
        self.assertIsNone(mm.refresh_token)
        other = self.client(refresh_token=rotated.refresh_token)
        with self.assertRaises(MemoryMeshError) as caught:
            other.refresh()
        self.assertEqual(caught.exception.status, 401, "logout revoked the login")

        with self.assertRaises(MemoryMeshError) as caught:
            self.client().login(f"{name}@example.com", "WrongPass123")
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    def test_email_and_password_log_in_at_the_first_call(self) -> None:
        _, creds = self.account()
        mm = self.client(email=creds["email"], password=creds["password"])
        self.assertEqual(mm.me().email, creds["email"])
        self.assertEqual(len(self.recorder.to("POST", "/v1/auth/login")), 2, "the account's own login, then this client's")

    def test_expired_access_token_is_refreshed_once(self) -> None:
        tokens_seen = []
        mm, creds = self.account(on_tokens=lambda pair: tokens_seen.append(pair.refresh_token))
        old_refresh = mm.refresh_token
        mm.access_token = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.expired"
        before = len(self.recorder.sent)
        self.assertEqual(mm.me().email, creds["email"])
        sent = [(s.method, s.path, s.status) for s in self.recorder.sent[before:]]
        self.assertEqual(sent, [("GET", "/v1/auth/me", 401), ("POST", "/v1/auth/refresh", 200), ("GET", "/v1/auth/me", 200)])
        self.assertNotEqual(mm.refresh_token, old_refresh, "the rotated refresh token is kept")
        self.assertEqual(tokens_seen[-1], mm.refresh_token)
        # the kept token works: the next expiry is refreshed again
        mm.access_token = "invalid"
        self.assertEqual(mm.get_tenant("t").tenant_id, "t")

    def test_a_401_that_refreshing_cannot_fix_surfaces(self) -> None:
        mm, _ = self.account()
        mm.access_token = "invalid"
        mm.refresh_token = "rt_invalid.invalid"
        before = len(self.recorder.sent)
        with self.assertRaises(MemoryMeshError) as caught:
            mm.me()
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))
        self.assertEqual([(s.path, s.status) for s in self.recorder.sent[before:]], [("/v1/auth/me", 401), ("/v1/auth/refresh", 401)])

    def test_api_keys(self) -> None:
        mm, creds = self.account()
        tenant = unique("t")
        created = mm.create_api_key("backend", expires_days=30, tenant_ids=[tenant], scopes=["read", "write"])
        self.assertTrue(created.key.startswith(created.prefix))
        self.assertEqual((created.name, created.tenant_ids, sorted(created.scopes)), ("backend", [tenant], ["read", "write"]))
        self.assertIsNotNone(created.expires_at)
        reader = mm.create_api_key("reader", scopes=["read"])
        listed = {k.id: k for k in mm.list_api_keys()}
        self.assertEqual(set(listed), {created.id, reader.id})
        self.assertEqual((listed[created.id].prefix, listed[created.id].tenant_ids), (created.prefix, [tenant]))

        keyed = self.client(api_key=created.key)
        self.assertEqual(keyed.me().email, creds["email"])
        stored = keyed.store_message(tenant, "c", "user", "stored with an API key")
        self.assertEqual(keyed.get_message(stored.id).content, "stored with an API key")
        with self.assertRaises(MemoryMeshError) as caught:
            keyed.get_tenant(unique("elsewhere"))
        self.assertEqual((caught.exception.status, caught.exception.code), (403, "forbidden"))
        with self.assertRaises(MemoryMeshError) as caught:
            keyed.create_api_key("nope")
        self.assertEqual(caught.exception.status, 403, "an API key cannot mint keys")
        with self.assertRaises(MemoryMeshError) as caught:
            self.client(api_key=reader.key).store_message(tenant, "c", "user", "no write scope")
        self.assertEqual(caught.exception.status, 403)

        mm.revoke_api_key(created.id)
        self.assertEqual({k.id for k in mm.list_api_keys()}, {reader.id})
        before = len(self.recorder.sent)
        with self.assertRaises(MemoryMeshError) as caught:
            keyed.me()
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(len(self.recorder.sent) - before, 1, "an API key is not refreshed")
        with self.assertRaises(MemoryMeshError) as caught:
            mm.revoke_api_key(created.id)
        self.assertEqual(caught.exception.status, 404)

    def test_delete_account(self) -> None:
        mm, creds = self.account()
        mm.store_message("t", "c", "user", "soon gone")
        with self.assertRaises(MemoryMeshError) as caught:
            mm.delete_account("WrongPass123")
        self.assertEqual(caught.exception.status, 401)
        mm.delete_account(creds["password"])
        self.assertIsNone(mm.access_token)
        with self.assertRaises(MemoryMeshError) as caught:
            self.client().login(creds["email"], creds["password"])
        self.assertEqual(caught.exception.status, 401)

    def test_health_and_ready(self) -> None:
        mm = self.client()
        self.assertEqual(mm.health().status, "ok")
        ready = mm.ready()
        self.assertEqual((ready.status, ready.redis, ready.queue), ("ready", True, True))
        self.assertIn(ready.vector_engine, ("exact", "query-engine"))


class AuthSync(AuthScenarios, SyncCase):
    pass


class AuthAsync(AuthScenarios, AsyncCase):
    pass


class ConcurrentRefreshTest(unittest.IsolatedAsyncioTestCase):
    async def test_concurrent_401s_refresh_once(self) -> None:
        need_server()
        recorder = Recorder("async")
        name = unique("conc").replace("-", "_")
        async with AsyncMemoryMesh(BASE_URL, transport=AsyncRecordingTransport(recorder), retry=FAST_RETRY) as mm:
            await mm.register(f"{name}@example.com", name, PASSWORD)
            await mm.login(f"{name}@example.com", PASSWORD)
            mm.access_token = "invalid"
            users = await asyncio.gather(*[mm.me() for _ in range(8)])
            self.assertEqual({u.username for u in users}, {name})
            self.assertEqual(len(recorder.to("POST", "/v1/auth/refresh")), 1, "one refresh for every call that got 401")
            self.assertEqual(await mm.me(), users[0], "the login was not revoked by a reused refresh token")


if __name__ == "__main__":
    unittest.main()
