"""A TCP proxy in front of the API that can drop connections and close WebSockets with a chosen code.

The server's own 1001 (shutdown) and 4001 (credential expired, after ACCESS_TOKEN_TTL_S >= 30 s)
cannot be had on demand, so the proxy sends that close frame itself, between two server frames,
then closes the connection: to the client it is the server closing the socket with that code.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Optional, Set
from urllib.parse import urlsplit


class _Pair:
    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter, websocket: bool) -> None:
        self.client = client
        self.upstream = upstream
        self.websocket = websocket


class FaultProxy:
    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._pairs: Set[_Pair] = set()
        self._loop = asyncio.new_event_loop()
        self._server: Optional[asyncio.base_events.Server] = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="fault-proxy", daemon=True)
        self._thread.start()
        started.wait(10)
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        #: WebSocket connections opened through the proxy so far
        self.websockets_opened = 0

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.close()
            return
        first = await reader.read(65536)
        pair = _Pair(writer, up_writer, first.startswith(b"GET /ws/"))
        if pair.websocket:
            self.websockets_opened += 1
        self._pairs.add(pair)
        up_writer.write(first)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while True:
                    data = await src.read(65536)
                    if not data:
                        break
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        finally:
            self._pairs.discard(pair)

    def close_websockets(self, code: int, reason: str = "") -> int:
        """Closes every WebSocket through the proxy with a close frame of ``code``; answers how many."""

        async def close() -> int:
            count = 0
            payload = code.to_bytes(2, "big") + reason.encode()
            for pair in [p for p in self._pairs if p.websocket]:
                pair.client.write(bytes([0x88, len(payload)]) + payload)
                await pair.client.drain()
                pair.client.close()
                pair.upstream.close()
                count += 1
            return count

        return asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def drop_websockets(self) -> int:
        """Resets every WebSocket connection through the proxy (no close frame: the client sees 1006)."""

        async def drop() -> int:
            count = 0
            for pair in [p for p in self._pairs if p.websocket]:
                pair.client.transport.abort()
                pair.upstream.transport.abort()
                count += 1
            return count

        return asyncio.run_coroutine_threadsafe(drop(), self._loop).result(10)

    def open_websockets(self) -> int:
        return sum(1 for p in self._pairs if p.websocket)

    def stop(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for pair in list(self._pairs):
                pair.client.transport.abort()
                pair.upstream.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
