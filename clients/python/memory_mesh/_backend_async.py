"""The async client's primitives; scripts/unasync.py swaps this module for _backend_sync."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

from ._core import NdjsonBody

Lock = asyncio.Lock
sleep = asyncio.sleep
monotonic = time.monotonic


def request_content(body: NdjsonBody) -> AsyncIterator[bytes]:
    return body.achunks()
