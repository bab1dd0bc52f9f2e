"""The sync client's primitives (see _backend_async)."""

from __future__ import annotations

import threading
import time
from typing import Iterator

from ._core import NdjsonBody

Lock = threading.Lock
sleep = time.sleep
monotonic = time.monotonic


def request_content(body: NdjsonBody) -> Iterator[bytes]:
    return body.chunks()
