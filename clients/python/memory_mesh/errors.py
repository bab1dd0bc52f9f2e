"""The one exception the client raises."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Optional

import httpx


class MemoryMeshError(Exception):
    """A failed call, in the server's words when it answered.

    ``status`` is the HTTP status, or ``None`` when no answer came (``code`` is then
    ``connection_error``), or for conditions the client detects itself: ``timeout`` and
    ``indexing_failed`` (:meth:`wait_for_indexed`), ``job_failed`` (:meth:`wait_for_job`),
    ``api_key_revoked`` and ``account_deleted`` (event streams closed with 4002 / 4003).
    ``code``, ``message``, ``details`` and ``request_id`` come from the server's JSON error body
    ``{message, code, details?, request_id}``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: str = "error",
        details: Any = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details
        self.request_id = request_id
        #: seconds the server asked to wait (429 / 503 ``Retry-After``), when it did
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.status} " if self.status is not None else ""
        rid = f" (request_id {self.request_id})" if self.request_id else ""
        return f"{where}{self.code}: {self.message}{rid}"

    def __repr__(self) -> str:
        return f"MemoryMeshError(status={self.status!r}, code={self.code!r}, message={self.message!r}, details={self.details!r}, request_id={self.request_id!r})"


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` in seconds (the API sends whole seconds; an HTTP date is honoured too)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_from_response(response: httpx.Response) -> MemoryMeshError:
    """The error a non-2xx answer stands for (its body must have been read)."""
    body: Any = None
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    request_id = response.headers.get("x-request-id")
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return MemoryMeshError(
            body["message"],
            status=response.status_code,
            code=str(body.get("code") or "error"),
            details=body.get("details"),
            request_id=body.get("request_id") or request_id,
            retry_after=retry_after,
        )
    text = response.text.strip()[:500] if response.content else ""
    return MemoryMeshError(
        text or response.reason_phrase or f"HTTP {response.status_code}",
        status=response.status_code,
        code=f"http_{response.status_code}",
        request_id=request_id,
        retry_after=retry_after,
    )
