"""Writes memory_mesh/_sync_client.py (MemoryMesh) from memory_mesh/_async_client.py (AsyncMemoryMesh).

The client is written once, async; the sync one is the same code with the async words taken out,
so the two behave alike call for call. Run after editing _async_client.py:

    python3 clients/python/scripts/unasync.py          # rewrite _sync_client.py
    python3 clients/python/scripts/unasync.py --check  # exit 1 if it is out of date (the tests run this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "memory_mesh"
SOURCE = PACKAGE / "_async_client.py"
TARGET = PACKAGE / "_sync_client.py"

# Whole words, in order.
WORDS = [
    ("_backend_async", "_backend_sync"),
    ("AsyncMemoryMesh", "MemoryMesh"),
    ("AsyncEventStream", "EventStream"),
    ("_AsyncSocketAuth", "_SocketAuth"),
    ("AsyncNdjsonSource", "NdjsonSource"),
    ("AsyncIterator", "Iterator"),
    ("AsyncIterable", "Iterable"),
    ("AsyncClient", "Client"),
    ("AsyncBaseTransport", "BaseTransport"),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("aclose", "close"),
    ("aread", "read"),
    ("aiter_lines", "iter_lines"),
    ("aiter_bytes", "iter_bytes"),
]
# Keywords: `async def` -> `def`, `async with` / `async for` -> `with` / `for`, `await x` -> `x`.
KEYWORDS = [(r"\basync (def|with|for)\b", r"\1"), (r"\bawait ", "")]

HEADER = '"""The sync client. Generated from _async_client.py by scripts/unasync.py: edit that file, not this one."""'


def generate() -> str:
    text = SOURCE.read_text(encoding="utf-8")
    first, rest = text.split("\n", 1)
    assert first.startswith('"""'), "the async client starts with a one-line docstring"
    for old, new in WORDS:
        rest = re.sub(rf"\b{re.escape(old)}\b", new, rest)
    for pattern, replacement in KEYWORDS:
        rest = re.sub(pattern, replacement, rest)
    leftover = re.findall(r"\b(async|await|Async\w*|asyncio)\b", rest)
    if leftover:
        raise SystemExit(f"unasync: async words left in the sync client: {sorted(set(leftover))}")
    return f"{HEADER}\n{rest}"


def main() -> int:
    out = generate()
    if "--check" in sys.argv[1:]:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != out:
            print(f"{TARGET} is out of date: run python3 {Path(__file__).as_posix()}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(out, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
