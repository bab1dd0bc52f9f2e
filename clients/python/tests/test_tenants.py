"""Tenants: counts, retention policy, export (streamed), import (lines, files, gzip), erase; with both clients."""

from __future__ import annotations

import gzip
import io
import json
import tempfile
import unittest
from pathlib import Path
from typing import Any, Dict, Iterator, List

from memory_mesh import MemoryMeshError

from support import AsyncCase, SyncCase, unique


class TenantScenarios:
    def filled(self, mm: Any, tenant: str, n: int = 3) -> List[Any]:
        stored = mm.store_messages([{"tenant_id": tenant, "conversation_id": f"c{i % 2}", "role": "user", "content": f"fact number {i} about llamas", "metadata": {"i": i}} for i in range(n)])
        mm.upsert_conversation(tenant, "c0", title="Llamas", metadata={"topic": "animals"})
        mm.wait_for_indexed(stored, timeout=60)
        return stored

    def test_list_get_and_policy(self) -> None:
        mm, _ = self.account()
        tenants = sorted(unique("t") for _ in range(3))
        for i, tenant in enumerate(tenants):
            mm.store_messages([{"tenant_id": tenant, "conversation_id": "c", "role": "user", "content": f"m{j}"} for j in range(i + 1)])
        page = mm.list_tenants(limit=2)
        self.assertEqual(([t.tenant_id for t in page.tenants], page.next_cursor is not None), (tenants[:2], True))
        self.assertEqual([t.tenant_id for t in mm.list_tenants(cursor=page.next_cursor).tenants], tenants[2:])
        everything = list(mm.iter_tenants(page_size=1))
        self.assertEqual([(t.tenant_id, t.messages, t.conversations) for t in everything], [(t, i + 1, 1) for i, t in enumerate(tenants)])

        summary = mm.get_tenant(tenants[2])
        self.assertEqual((summary.messages, summary.conversations, summary.pending + summary.indexed, summary.failed, summary.retention_days), (3, 1, 3, 0, None))
        self.assertEqual(mm.get_tenant(unique("empty")).messages, 0)

        policy = mm.get_policy(tenants[0])
        self.assertEqual((policy.tenant_id, policy.retention_days), (tenants[0], None))
        policy = mm.set_policy(tenants[0], 90)
        self.assertEqual(policy.retention_days, 90)
        self.assertIsNotNone(policy.updated_at)
        self.assertEqual(mm.get_policy(tenants[0]).retention_days, 90)
        self.assertEqual(mm.get_tenant(tenants[0]).retention_days, 90)
        self.assertIsNone(mm.set_policy(tenants[0], None).retention_days)
        with self.assertRaises(MemoryMeshError) as caught:
            mm.set_policy(tenants[0], 0)
        self.assertEqual(caught.exception.status, 400)

    def test_export_and_import_lines(self) -> None:
        mm, _ = self.account()
        other, _ = self.account()
        source, copy = unique("src"), unique("copy")
        stored = self.filled(mm, source)
        lines = list(mm.export_tenant(source))
        kinds = [line.get("type") for line in lines]
        self.assertEqual(kinds, ["conversation", "conversation", "message", "message", "message"], "conversations first")
        self.assertEqual([line["id"] for line in lines[2:]], [m.id for m in stored], "messages oldest first")
        self.assertNotIn("vector", lines[2])
        with_vectors = list(mm.export_tenant(source, include_vectors=True))
        self.assertTrue(all("vector" in line and line["vector_model"] for line in with_vectors[2:]))

        # into another account's tenant (message ids are unique per account): tenant_id names the source, so it goes
        moved = [{k: v for k, v in line.items() if k != "tenant_id"} for line in with_vectors]
        report = other.import_tenant(copy, moved)
        self.assertEqual((report.lines, report.imported, report.with_vectors, report.unchanged, report.conversations, report.rejected, report.errors), (5, 3, 3, 0, 2, 0, []))
        copied = other.get_tenant(copy)
        self.assertEqual((copied.messages, copied.indexed, copied.conversations), (3, 3, 2), "vectors of the server's model: indexed without embedding")
        self.assertEqual(other.get_conversation("c0", tenant_id=copy).title, "Llamas")
        self.assertEqual([m.id for m in other.iter_messages(copy, order="oldest")], [m.id for m in stored], "ids kept")
        again = other.import_tenant(copy, moved, gzip=True)
        self.assertEqual((again.imported, again.unchanged), (0, 3), "idempotent by id")

        def one_shot() -> Iterator[Any]:
            yield {"conversation_id": "new", "role": "user", "content": "a new line"}
            yield "not json"
            yield json.dumps({"conversation_id": "new", "role": "robot", "content": "bad role"})
            yield {"tenant_id": "someone-else", "conversation_id": "new", "role": "user", "content": "wrong tenant"}

        mixed = other.import_tenant(copy, one_shot())
        self.assertEqual((mixed.lines, mixed.imported, mixed.rejected), (4, 1, 3))
        self.assertEqual([e.line for e in mixed.errors], [2, 3, 4])
        self.assertTrue(all(e.message for e in mixed.errors))

    def test_export_to_file_and_import_files(self) -> None:
        mm, _ = self.account()
        tenant = unique("t")
        stored = self.filled(mm, tenant, n=4)
        with tempfile.TemporaryDirectory() as tmp:
            plain, packed = Path(tmp) / "export.ndjson", Path(tmp) / "export.ndjson.gz"
            self.assertEqual(mm.export_tenant_to_file(tenant, plain, include_vectors=True), 6)
            self.assertEqual(mm.export_tenant_to_file(tenant, str(packed), include_vectors=True, gzip=True), 6)
            self.assertEqual(gzip.decompress(packed.read_bytes()).count(b"\n"), 6)
            self.assertEqual([json.loads(line)["type"] for line in plain.read_text().splitlines()][-1], "message")

            erase = mm.erase_tenant(tenant)
            self.assertEqual((erase.kind, erase.tenant_id, erase.filter), ("erase_tenant", tenant, None))
            self.assertEqual(mm.wait_for_job(erase, timeout=60).deleted, 4)
            self.assertEqual((mm.get_tenant(tenant).messages, mm.get_tenant(tenant).conversations), (0, 0))

            report = mm.import_tenant(tenant, packed)
            self.assertEqual((report.imported, report.with_vectors, report.conversations), (4, 4, 2), "a .gz file is sent as gzip")
            self.assertEqual(sorted(m.id for m in mm.iter_messages(tenant)), sorted(m.id for m in stored))
            self.assertEqual(mm.import_tenant(tenant, str(plain)).unchanged, 4)
            self.assertEqual(mm.import_tenant(tenant, plain.read_bytes(), gzip=True).unchanged, 4)
            with open(plain, "rb") as f:
                self.assertEqual(mm.import_tenant(tenant, f).unchanged, 4)
            self.assertEqual(mm.import_tenant(tenant, io.BytesIO(packed.read_bytes())).unchanged, 4)
        self.assertEqual(mm.search(tenant, "llamas", top_k=1)[0].tenant_id, tenant, "imported vectors are searchable")
        elsewhere = self.client(api_key=mm.create_api_key("elsewhere", tenant_ids=[unique("t")]).key)
        lines = elsewhere.export_tenant(tenant)
        with self.assertRaises(MemoryMeshError) as caught:
            next(iter(lines))
        self.assertEqual(caught.exception.status, 403, "raised when iteration starts")


class TenantsSync(TenantScenarios, SyncCase):
    pass


class TenantsAsync(TenantScenarios, AsyncCase):
    pass


if __name__ == "__main__":
    unittest.main()
