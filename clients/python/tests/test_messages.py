"""Messages, conversations, search and reindex, with both clients, against the real server."""

from __future__ import annotations

import unittest
from datetime import datetime, timedelta, timezone

from memory_mesh import MemoryMeshError

from support import AsyncCase, SyncCase, unique


class MessageScenarios:
    def test_store_get_wait_update_delete(self) -> None:
        mm, _ = self.account()
        tenant = unique("t")
        said = datetime.now(timezone.utc) - timedelta(hours=1)
        stored = mm.store_message(tenant, "conv/1 ü", "user", "I adopted a golden retriever", importance=0.9, metadata={"source": "web", "n": 3}, created_at=said, ttl_seconds=86400)
        self.assertEqual((stored.status, stored.importance, stored.metadata, stored.conversation_id), ("pending", 0.9, {"source": "web", "n": 3}, "conv/1 ü"))
        self.assertTrue(stored.created_at.startswith(said.strftime("%Y-%m-%dT%H:%M")))
        self.assertIsNotNone(stored.expires_at)
        (indexed,) = mm.wait_for_indexed([stored], timeout=30)
        self.assertEqual((indexed.id, indexed.status, indexed.error), (stored.id, "indexed", None))
        self.assertIsNotNone(indexed.indexed_at)
        self.assertEqual(mm.get_message(stored.id), indexed)

        updated = mm.update_message(stored.id, metadata={"source": "app"}, importance=0.2, ttl_seconds=None)
        self.assertEqual((updated.metadata, updated.importance, updated.expires_at, updated.status), ({"source": "app"}, 0.2, None, "indexed"))
        self.assertIsNotNone(updated.updated_at)
        rewritten = mm.update_message(stored.id, content="I adopted a black cat", expires_at=datetime.now(timezone.utc) + timedelta(days=2))
        self.assertEqual((rewritten.content, rewritten.status), ("I adopted a black cat", "pending"))
        self.assertIsNotNone(rewritten.expires_at)
        self.assertEqual(mm.wait_for_indexed([stored.id], timeout=30)[0].content, "I adopted a black cat")
        cleared = mm.update_message(stored.id, metadata=None)
        self.assertEqual((cleared.metadata, cleared.content), (None, "I adopted a black cat"), "None clears metadata, the rest stays")
        with self.assertRaises(MemoryMeshError) as caught:
            mm.update_message(stored.id)
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "validation_error"))

        mm.delete_message(stored.id)
        with self.assertRaises(MemoryMeshError) as caught:
            mm.get_message(stored.id)
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "not_found"))

    def test_batch_list_pages_and_iterate(self) -> None:
        mm, _ = self.account()
        tenant = unique("t")
        base = datetime.now(timezone.utc) - timedelta(minutes=10)
        inputs = [
            {"tenant_id": tenant, "conversation_id": "a" if i % 2 else "b", "role": "user" if i % 3 else "assistant", "content": f"message number {i}", "created_at": base + timedelta(seconds=i)}
            for i in range(7)
        ]
        created = mm.store_messages(inputs)
        self.assertEqual([m.content for m in created], [f"message number {i}" for i in range(7)], "input order")
        with self.assertRaises(MemoryMeshError) as caught:
            mm.store_messages([{"tenant_id": tenant, "conversation_id": "a", "role": "user", "content": ""}])
        self.assertEqual((caught.exception.status, caught.exception.details[0]["field"]), (400, "messages.0.content"))

        newest = mm.list_messages(tenant, limit=3)
        self.assertEqual([m.content for m in newest.messages], ["message number 6", "message number 5", "message number 4"])
        self.assertIsNotNone(newest.next_cursor)
        second = mm.list_messages(tenant, limit=3, cursor=newest.next_cursor)
        self.assertEqual([m.content for m in second.messages], ["message number 3", "message number 2", "message number 1"])
        self.assertEqual([m.content for m in mm.iter_messages(tenant, order="oldest", page_size=2)], [f"message number {i}" for i in range(7)])
        self.assertEqual({m.content for m in mm.iter_messages(tenant, conversation_id="a", role=["user", "assistant"], page_size=2)}, {f"message number {i}" for i in (1, 3, 5)})
        self.assertEqual([m.content for m in mm.list_messages(tenant, role="assistant", order="oldest").messages], ["message number 0", "message number 3", "message number 6"])
        window = mm.list_messages(tenant, created_after=base + timedelta(seconds=2), created_before=(base + timedelta(seconds=4)).isoformat(), order="oldest")
        self.assertEqual([m.content for m in window.messages], ["message number 2", "message number 3"])
        mm.wait_for_indexed(created, timeout=30)
        self.assertEqual(len(mm.list_messages(tenant, status=["indexed"]).messages), 7)
        self.assertEqual(mm.list_messages(tenant, status="pending").messages, [])
        with self.assertRaises(MemoryMeshError) as caught:
            mm.list_messages(tenant, cursor="not-a-cursor")
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "invalid_cursor"))

    def test_delete_by_filter_is_a_job(self) -> None:
        mm, _ = self.account()
        tenant = unique("t")
        mm.store_messages([{"tenant_id": tenant, "conversation_id": "c", "role": "user", "content": f"m{i}", "metadata": {"source": "import" if i < 3 else "web"}} for i in range(5)])
        job = mm.delete_messages(tenant, metadata={"source": "import"})
        self.assertEqual((job.kind, job.tenant_id, job.filter), ("delete", tenant, {"tenant_id": tenant, "metadata": {"source": "import"}}))
        self.assertIn(job.status, ("queued", "running", "completed"))
        done = mm.wait_for_job(job, timeout=60)
        self.assertEqual((done.status, done.deleted, done.error), ("completed", 3, None))
        self.assertIsNotNone(done.finished_at)
        self.assertEqual(mm.get_job(job.id), done)
        self.assertEqual(sorted(m.content for m in mm.iter_messages(tenant)), ["m3", "m4"])
        later = mm.delete_messages(tenant, conversation_id="c", created_after="2000-01-01T00:00:00Z", created_before=datetime.now(timezone.utc) + timedelta(minutes=1))
        self.assertEqual(mm.wait_for_job(later.id, timeout=60).deleted, 2)
        with self.assertRaises(MemoryMeshError) as caught:
            mm.get_job("dj-unknown")
        self.assertEqual(caught.exception.status, 404)

    def test_conversations(self) -> None:
        mm, _ = self.account()
        tenant, other = unique("t"), unique("t")
        conv = "support chat/42"
        created = mm.upsert_conversation(tenant, conv, title="Help", metadata={"channel": "web"})
        self.assertEqual((created.conversation_id, created.title, created.metadata, created.message_count), (conv, "Help", {"channel": "web"}, 0))
        renamed = mm.upsert_conversation(tenant, conv, title="Python help")
        self.assertEqual((renamed.title, renamed.metadata), ("Python help", {"channel": "web"}))
        mm.store_messages([{"tenant_id": tenant, "conversation_id": conv, "role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(3)])
        mm.store_message(tenant, "other-conv", "user", "elsewhere")

        got = mm.get_conversation(conv)
        self.assertEqual((got.tenant_id, got.message_count, got.title), (tenant, 3, "Python help"))
        self.assertIsNotNone(got.last_message_at)
        page = mm.list_conversations(tenant, limit=1)
        self.assertEqual((page.total, page.limit, page.offset, len(page.conversations)), (2, 1, 0, 1))
        self.assertEqual(len(mm.list_conversations(tenant, limit=1, offset=1).conversations), 1)
        history = mm.conversation_history(conv, limit=2)
        self.assertEqual(([m.content for m in history.messages], history.total, history.conversation_id), (["turn 0", "turn 1"], 3, conv))
        self.assertEqual([m.content for m in mm.conversation_history(conv, tenant_id=tenant, offset=2).messages], ["turn 2"])

        mm.store_message(other, conv, "user", "same conversation id, another tenant")
        with self.assertRaises(MemoryMeshError) as caught:
            mm.get_conversation(conv)
        self.assertEqual((caught.exception.status, caught.exception.code, sorted(caught.exception.details["tenant_ids"])), (409, "ambiguous_conversation", sorted([tenant, other])))
        self.assertEqual(mm.get_conversation(conv, tenant_id=other).message_count, 1)

        mm.delete_conversation(conv, tenant_id=tenant)
        with self.assertRaises(MemoryMeshError) as caught:
            mm.get_conversation(conv, tenant_id=tenant)
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(mm.list_messages(tenant, conversation_id=conv).messages, [])

    def test_search_and_reindex(self) -> None:
        mm, _ = self.account()
        tenant = unique("t")
        now = datetime.now(timezone.utc)
        stored = mm.store_messages(
            [
                {"tenant_id": tenant, "conversation_id": "pets", "role": "user", "content": "I adopted a golden retriever named Max", "importance": 0.9, "metadata": {"source": "web"}, "created_at": now - timedelta(days=3)},
                {"tenant_id": tenant, "conversation_id": "pets", "role": "assistant", "content": "Max sounds like a lovely dog", "created_at": now - timedelta(days=2)},
                {"tenant_id": tenant, "conversation_id": "pets", "role": "user", "content": "He chewed my shoes yesterday", "importance": 0.2, "created_at": now - timedelta(days=1)},
                {"tenant_id": tenant, "conversation_id": "code", "role": "user", "content": "How do I reverse a list in Python?", "metadata": {"source": "app"}},
            ]
        )
        mm.wait_for_indexed(stored, timeout=60)

        hits = mm.search(tenant, "golden retriever", top_k=2)
        self.assertEqual(hits[0].id, stored[0].id)
        self.assertLessEqual(len(hits), 2)
        self.assertEqual((hits[0].tenant_id, hits[0].conversation_id, hits[0].metadata), (tenant, "pets", {"source": "web"}))
        for mode in ("hybrid", "semantic", "keyword"):
            self.assertEqual(mm.search(tenant, "retriever Max", mode=mode, top_k=1)[0].id, stored[0].id, mode)
        explained = mm.search(tenant, "chewed shoes", explain=True, context=1, top_k=1)[0]
        assert explained.explain is not None and explained.context is not None
        self.assertEqual(explained.id, stored[2].id)
        self.assertIsNotNone(explained.explain.keyword)
        self.assertEqual(([m.id for m in explained.context.before], explained.context.after), ([stored[1].id], []))
        self.assertEqual({h.id for h in mm.search(tenant, "dog", role=["assistant"], mode="semantic")}, {stored[1].id})
        self.assertEqual({h.id for h in mm.search(tenant, "python list", conversation_id="code")}, {stored[3].id})
        self.assertEqual({h.id for h in mm.search(tenant, "anything at all", metadata={"source": "app"}, mode="semantic")}, {stored[3].id})
        self.assertEqual({h.id for h in mm.search(tenant, "dog", min_importance=0.8, mode="semantic")}, {stored[0].id})
        window = mm.search(tenant, "dog", mode="semantic", created_after=now - timedelta(days=2, hours=1), created_before=(now - timedelta(hours=12)).isoformat())
        self.assertEqual({h.id for h in window}, {stored[1].id, stored[2].id})
        weighted = mm.search(tenant, "dog", mode="semantic", recency_weight=0.3, importance_weight=0.3, recency_half_life_days=1, explain=True, min_score=-1)
        self.assertTrue(all(h.explain is not None and h.explain.recency.contribution >= 0 for h in weighted))
        self.assertEqual(mm.search(tenant, "dog", min_score=1.0, mode="semantic"), [])
        with self.assertRaises(MemoryMeshError) as caught:
            mm.search(tenant, "dog", top_k=1000)
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "validation_error"))

        self.assertEqual(mm.reindex(tenant).queued, 0, "nothing failed")
        self.assertEqual(mm.reindex(tenant, mode="all").queued, 4)
        self.assertEqual(len(mm.wait_for_indexed(stored, timeout=60)), 4)


class MessagesSync(MessageScenarios, SyncCase):
    pass


class MessagesAsync(MessageScenarios, AsyncCase):
    pass


if __name__ == "__main__":
    unittest.main()
