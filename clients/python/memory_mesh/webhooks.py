"""Checking webhook deliveries: Standard Webhooks signatures (https://www.standardwebhooks.com/).

A delivery is a POST of ``{type, timestamp, data}`` with the headers ``webhook-id`` (the event id,
the same on every retry: deduplicate on it), ``webhook-timestamp`` (seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``; two, space-separated,
while a rotated secret's grace period lasts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Dict, Mapping, Optional, Union

from .errors import MemoryMeshError

_PREFIX = "whsec_"


def sign_webhook(secret: str, webhook_id: str, timestamp: Union[int, str], body: Union[bytes, str]) -> str:
    """The ``v1,...`` signature of a delivery under ``secret`` (``whsec_...``)."""
    key = base64.b64decode(secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret)
    payload = body.encode("utf-8") if isinstance(body, str) else body
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(secret: str, headers: Mapping[str, str], body: Union[bytes, str], *, tolerance: float = 300.0, now: Optional[float] = None) -> Dict[str, Any]:
    """Checks a delivery's signature and age; answers its payload ``{type, timestamp, data}``.

    ``body`` is the raw request body, as received (not parsed and dumped again). Raises
    :class:`MemoryMeshError` with code ``invalid_webhook_signature`` when the signature does not
    match ``secret`` or the timestamp is more than ``tolerance`` seconds away from now.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    webhook_id, timestamp, signatures = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        raise MemoryMeshError("missing webhook-id, webhook-timestamp or webhook-signature header", code="invalid_webhook_signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise MemoryMeshError(f"webhook-timestamp is not a number: {timestamp!r}", code="invalid_webhook_signature") from None
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        raise MemoryMeshError(f"webhook-timestamp {sent_at} is more than {tolerance:g} s away", code="invalid_webhook_signature")
    expected = sign_webhook(secret, webhook_id, sent_at, body)
    if not any(hmac.compare_digest(expected, given) for given in signatures.split(" ") if given.startswith("v1,")):
        raise MemoryMeshError("webhook signature does not match", code="invalid_webhook_signature")
    parsed: Dict[str, Any] = json.loads(body)
    return parsed
