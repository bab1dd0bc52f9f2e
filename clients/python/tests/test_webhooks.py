"""Webhooks with both clients against the real server (WEBHOOK_ALLOW_PRIVATE=true, so a local receiver
may be an endpoint): endpoints, deliveries signed per Standard Webhooks and checked by verify_webhook,
secret rotation, test events, the delivery log and retries."""

from __future__ import annotations

import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

from memory_mesh import MemoryMeshError, sign_webhook, verify_webhook

from support import AsyncCase, SyncCase, eventually, unique


class Receiver:
    """A local endpoint that records every delivery (headers, raw body) and answers 204."""

    def __init__(self) -> None:
        self.received: List[Tuple[Dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def of(self, event_type: str) -> List[Tuple[Dict[str, str], bytes]]:
        return [(h, b) for h, b in self.received if b'"type":"' + event_type.encode() + b'"' in b]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class WebhookScenarios:
    def test_endpoints_deliveries_signatures_rotation_retry(self) -> None:
        receiver = Receiver()
        self.addCleanup(receiver.stop)
        mm, _ = self.account()
        tenant = unique("t")
        hook = mm.create_webhook(receiver.url, ["message.indexed"], tenant_ids=[tenant], description="py client")
        self.assertTrue(hook.secret.startswith("whsec_"))
        self.assertEqual((hook.url, hook.events, hook.tenant_ids, hook.enabled, hook.description, hook.disabled_reason), (receiver.url, ["message.indexed"], [tenant], True, "py client", None))
        self.assertEqual([w.id for w in mm.list_webhooks()], [hook.id])
        self.assertEqual(mm.get_webhook(hook.id).description, "py client")
        updated = mm.update_webhook(hook.id, events=["message.created", "message.indexed"], description="both")
        self.assertEqual((updated.events, updated.description, updated.tenant_ids), (["message.created", "message.indexed"], "both", [tenant]))
        with self.assertRaises(MemoryMeshError) as caught:
            mm.create_webhook("ftp://example.com/x", ["message.indexed"])
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "invalid_webhook_url"))

        stored = mm.store_message(tenant, "c", "user", "deliver me")
        mm.store_message(unique("other"), "c", "user", "another tenant: not delivered")
        headers, body = eventually("message.indexed delivered", lambda: next(iter(receiver.of("message.indexed")), None), 30)
        payload = verify_webhook(hook.secret, headers, body)
        self.assertEqual((payload["type"], payload["data"]["message"]["id"], payload["data"]["tenant_id"]), ("message.indexed", stored.id, tenant))
        with self.assertRaises(MemoryMeshError) as caught:
            verify_webhook(hook.secret, headers, body.replace(b"deliver me", b"tampered!!"))
        self.assertEqual(caught.exception.code, "invalid_webhook_signature")
        with self.assertRaises(MemoryMeshError):
            verify_webhook(hook.secret, headers, body, now=time.time() + 3600)
        eventually("message.created delivered", lambda: receiver.of("message.created"), 30)
        self.assertEqual(len(receiver.received), 2, "the other tenant's message is not for this endpoint")

        deliveries = eventually("both deliveries succeeded", lambda: [d for d in mm.list_webhook_deliveries(hook.id).deliveries if d.status == "succeeded"] if len(mm.list_webhook_deliveries(hook.id).deliveries) == 2 else None, 30)
        self.assertEqual({d.event_type for d in deliveries}, {"message.created", "message.indexed"})
        self.assertEqual({d.response_status for d in deliveries}, {204})
        paged = list(mm.iter_webhook_deliveries(hook.id, page_size=1))
        self.assertEqual([d.id for d in paged], [d.id for d in mm.list_webhook_deliveries(hook.id).deliveries], "newest first, page after page")
        indexed_id = headers["webhook-id"]
        self.assertIn(indexed_id, [d.id for d in paged], "a delivery's id is the webhook-id header")

        old_secret = hook.secret
        rotation = mm.rotate_webhook_secret(hook.id)
        self.assertTrue(rotation.secret.startswith("whsec_") and rotation.secret != old_secret)
        self.assertTrue(rotation.previous_valid_until)
        test = mm.test_webhook(hook.id)
        self.assertEqual((test.event_type, test.status), ("webhook.test", "pending"))
        test_headers, test_body = eventually("webhook.test delivered", lambda: next(iter(receiver.of("webhook.test")), None), 30)
        self.assertEqual(test_headers["webhook-id"], test.id)
        self.assertEqual(len(test_headers["webhook-signature"].split(" ")), 2, "both secrets sign during the grace period")
        self.assertEqual(verify_webhook(rotation.secret, test_headers, test_body)["data"], {"webhook_id": hook.id})
        verify_webhook(old_secret, test_headers, test_body)
        self.assertIn(sign_webhook(rotation.secret, test.id, test_headers["webhook-timestamp"], test_body), test_headers["webhook-signature"])

        again = mm.retry_webhook_delivery(hook.id, indexed_id)
        self.assertEqual((again.id, again.status), (indexed_id, "pending"))
        eventually("the retried delivery arrived again, same webhook-id", lambda: len([h for h, _ in receiver.of("message.indexed") if h["webhook-id"] == indexed_id]) == 2, 30)

        disabled = mm.update_webhook(hook.id, enabled=False, tenant_ids=None)
        self.assertEqual((disabled.enabled, disabled.tenant_ids), (False, None))
        mm.delete_webhook(hook.id)
        with self.assertRaises(MemoryMeshError) as caught:
            mm.get_webhook(hook.id)
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(mm.list_webhooks(), [])


class WebhooksSync(WebhookScenarios, SyncCase):
    pass


class WebhooksAsync(WebhookScenarios, AsyncCase):
    pass


if __name__ == "__main__":
    unittest.main()
