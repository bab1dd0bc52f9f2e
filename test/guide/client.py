"""The Python client code of /work/shared/integration-guide.md, copied verbatim, driven against a real server.

Usage: /usr/bin/python3 client.py BASE_URL [safe]   (or MEMORY_MESH_URL=... client.py)
Prints `PY OK` when every step worked; otherwise exits 1 naming the failing step.
With `safe`, exercises only the guide's store_message_safe as written and prints `PY SAFE OK`.

Only change to the guide's code: the host:port of `uri` in listen_for_updates (the guide hard-codes
localhost:8000); it comes from WS_HOSTPORT, set from BASE_URL.
"""

# ---------------------------------------------------------------------------------------------
# Guide: Python / Basic Setup (verbatim)
# ---------------------------------------------------------------------------------------------
import httpx
from typing import Optional, List, Dict, Any

class MemoryMeshClient:
    def __init__(
        self,
        base_url: str = "http://localhost:8000",
        access_token: Optional[str] = None,
        api_key: Optional[str] = None
    ):
        self.base_url = base_url.rstrip("/")
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {access_token}"} if access_token else {}),
                **({"x-api-key": api_key} if api_key else {}),
            },
            timeout=30.0
        )
    
    async def close(self):
        await self.client.aclose()
    
    async def __aenter__(self):
        return self
    
    async def __aexit__(self, exc_type, exc_val, exc_tb):
        await self.close()

# ---------------------------------------------------------------------------------------------
# Guide: Python / Authentication (verbatim, without the "# Usage" snippet)
# ---------------------------------------------------------------------------------------------
# Register a new user
async def register_user(
    client: httpx.AsyncClient,
    email: str,
    username: str,
    password: str
) -> Dict[str, Any]:
    response = await client.post(
        "/v1/auth/register",
        json={
            "email": email,
            "username": username,
            "password": password
        }
    )
    response.raise_for_status()
    return response.json()

# Login
async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str
) -> Dict[str, Any]:
    response = await client.post(
        "/v1/auth/login",
        json={
            "email": email,
            "password": password
        }
    )
    response.raise_for_status()
    return response.json()

# ---------------------------------------------------------------------------------------------
# Guide: Python / Storing Messages (verbatim)
# ---------------------------------------------------------------------------------------------
async def store_message(
    client: MemoryMeshClient,
    tenant_id: str,
    conversation_id: str,
    role: str,
    content: str,
    importance: Optional[float] = None,
    metadata: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    response = await client.client.post(
        "/v1/messages",
        json={
            "tenant_id": tenant_id,
            "conversation_id": conversation_id,
            "role": role,
            "content": content,
            "importance": importance,
            "metadata": metadata
        }
    )
    response.raise_for_status()
    return response.json()

# ---------------------------------------------------------------------------------------------
# Guide: Python / Batch Operations (verbatim)
# ---------------------------------------------------------------------------------------------
async def batch_create_messages(
    client: MemoryMeshClient,
    messages: List[Dict[str, Any]]
) -> Dict[str, Any]:
    response = await client.client.post(
        "/v1/messages/batch",
        json={"messages": messages}
    )
    response.raise_for_status()
    return response.json()

# ---------------------------------------------------------------------------------------------
# Guide: Python / Semantic Search (verbatim)
# ---------------------------------------------------------------------------------------------
async def search_messages(
    client: MemoryMeshClient,
    tenant_id: str,
    query: str,
    top_k: int = 5,
    conversation_id: Optional[str] = None,
    min_importance: Optional[float] = None
) -> List[Dict[str, Any]]:
    params = {
        "tenant_id": tenant_id,
        "query": query,
        "top_k": top_k
    }
    if conversation_id:
        params["conversation_id"] = conversation_id
    if min_importance:
        params["min_importance"] = min_importance
    
    response = await client.client.get("/v1/memory/search", params=params)
    response.raise_for_status()
    return response.json()["results"]

# ---------------------------------------------------------------------------------------------
# Guide: Python / Conversation Management (verbatim)
# ---------------------------------------------------------------------------------------------
async def create_conversation(
    client: MemoryMeshClient,
    tenant_id: str,
    conversation_id: str,
    title: Optional[str] = None,
    metadata: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    response = await client.client.post(
        "/v1/conversations",
        json={
            "tenant_id": tenant_id,
            "conversation_id": conversation_id,
            "title": title,
            "metadata": metadata
        }
    )
    response.raise_for_status()
    return response.json()

async def get_conversation(
    client: MemoryMeshClient,
    conversation_id: str
) -> Dict[str, Any]:
    response = await client.client.get(f"/v1/conversations/{conversation_id}")
    response.raise_for_status()
    return response.json()

async def list_conversations(
    client: MemoryMeshClient,
    tenant_id: str,
    limit: int = 20,
    offset: int = 0
) -> Dict[str, Any]:
    response = await client.client.get(
        "/v1/conversations",
        params={"tenant_id": tenant_id, "limit": limit, "offset": offset}
    )
    response.raise_for_status()
    return response.json()

# ---------------------------------------------------------------------------------------------
# Guide: Authentication / Token Refresh (verbatim)
# ---------------------------------------------------------------------------------------------
async def refresh_token(
    client: httpx.AsyncClient,
    refresh_token: str
) -> Dict[str, Any]:
    response = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": refresh_token}
    )
    response.raise_for_status()
    return response.json()

# ---------------------------------------------------------------------------------------------
# Guide: Authentication / API Key Authentication (verbatim, without the "# Use API key" snippet)
# ---------------------------------------------------------------------------------------------
# Create API key (requires authentication)
async def create_api_key(
    client: MemoryMeshClient,
    name: str,
    expires_days: Optional[int] = None
) -> Dict[str, Any]:
    response = await client.client.post(
        "/v1/auth/api-keys",
        json={"name": name, "expires_days": expires_days}
    )
    response.raise_for_status()
    return response.json()

# ---------------------------------------------------------------------------------------------
# Guide: Error Handling / Python (verbatim)
# ---------------------------------------------------------------------------------------------
import httpx

async def store_message_safe(client: MemoryMeshClient, message: Dict[str, Any]):
    try:
        return await store_message(client, message)
    except httpx.HTTPStatusError as e:
        if e.response.status_code == 401:
            # Token expired, refresh and retry
            print("Token expired, please refresh")
        elif e.response.status_code == 429:
            # Rate limited
            retry_after = e.response.headers.get("Retry-After", "60")
            print(f"Rate limited, retry after {retry_after} seconds")
        else:
            print(f"Error: {e.response.status_code} - {e.response.text}")
        raise
    except httpx.RequestError as e:
        print(f"Network error: {e}")
        raise

# ---------------------------------------------------------------------------------------------
# Guide: WebSocket Integration / Real-time Updates (verbatim except the host:port in `uri`)
# ---------------------------------------------------------------------------------------------
WS_HOSTPORT = "localhost:8000"  # the guide's value; main() sets it from BASE_URL

import asyncio
import websockets
import json

async def listen_for_updates(tenant_id: str, access_token: str):
    uri = f"ws://{WS_HOSTPORT}/ws/messages/{tenant_id}"
    headers = {"Authorization": f"Bearer {access_token}"}
    
    async with websockets.connect(uri, extra_headers=headers) as websocket:
        async for message in websocket:
            data = json.loads(message)
            print(f"New message: {data}")

# =============================================================================================
# Test driver (not from the guide)
# =============================================================================================
import os
import sys
import time
import uuid
from urllib.parse import urlparse

STEP = "start"


def step(name: str) -> None:
    global STEP
    STEP = name
    print(f"[py] {name}", file=sys.stderr, flush=True)


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


class Tee:
    """Copies what the guide's code prints to the real stdout and keeps it for inspection."""

    def __init__(self, real):
        self.real = real
        self.text = ""

    def write(self, s):
        self.text += s
        return self.real.write(s)

    def flush(self):
        self.real.flush()


async def eventually(what: str, fn, timeout: float = 30.0, interval: float = 0.2):
    end = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


async def account(base_url: str):
    n = f"py{uuid.uuid4().hex[:12]}"
    email, password = f"{n}@example.com", "SecurePass123"
    async with httpx.AsyncClient(base_url=base_url) as client:
        step("register_user")
        user = await register_user(client, email, n, password)
        check(user["email"] == email and user["id"], f"register answer: {user}")
        step("login")
        auth_data = await login(client, email, password)
        check(bool(auth_data["access_token"] and auth_data["refresh_token"]), f"login answer: {auth_data}")
    return auth_data


async def main(base_url: str) -> None:
    global WS_HOSTPORT
    WS_HOSTPORT = urlparse(base_url).netloc
    tenant = "my-app"
    conv = f"user-{uuid.uuid4().hex[:8]}"

    auth_data = await account(base_url)
    async with httpx.AsyncClient(base_url=base_url) as client:
        step("refresh_token")
        refreshed = await refresh_token(client, auth_data["refresh_token"])
        check(bool(refreshed["access_token"]) and refreshed["refresh_token"] != auth_data["refresh_token"], f"refresh answer: {refreshed}")
    access_token = refreshed["access_token"]

    async with MemoryMeshClient(base_url=base_url, access_token=access_token) as client:
        step("create_api_key (expires_days None)")
        key = await create_api_key(client, "guide-test")
        check(key["key"].startswith("mm_") and key["expires_at"] is None, f"api key answer: {key}")

        step("store_message (importance 0.8 + metadata)")
        message = await store_message(
            client,
            tenant_id=tenant,
            conversation_id=conv,
            role="user",
            content="I need help with Python programming",
            importance=0.8,
            metadata={"source": "web", "session_id": "abc123"},
        )
        check(message["id"] and message["importance"] == 0.8 and message["metadata"] == {"source": "web", "session_id": "abc123"}, f"stored: {message}")
        print(f"Stored message with ID: {message['id']}")

        step("batch_create_messages")
        messages = [
            {"tenant_id": tenant, "conversation_id": conv, "role": "user", "content": "Hello, how are you?"},
            {"tenant_id": tenant, "conversation_id": conv, "role": "assistant", "content": "I'm doing well, thank you!"},
        ]
        result = await batch_create_messages(client, messages)
        check(len(result["created"]) == 2, f"batch answer: {result}")
        print(f"Created {len(result['created'])} messages")

        step("create_conversation (title None, metadata None)")
        conv2 = f"conv-{uuid.uuid4().hex[:8]}"
        created = await create_conversation(client, tenant, conv2)
        check(created["conversation_id"] == conv2 and created["title"] is None, f"conversation: {created}")

        step("get_conversation (no tenant)")
        got = await get_conversation(client, conv)
        check(got["conversation_id"] == conv and got["tenant_id"] == tenant and got["message_count"] == 3, f"get_conversation: {got}")

        step("list_conversations")
        listed = await list_conversations(client, tenant)
        ids = [c["conversation_id"] for c in listed["conversations"]]
        check(conv in ids and conv2 in ids, f"list_conversations: {listed}")

        step("search_messages (poll until indexed)")

        async def found():
            results = await search_messages(client, tenant_id=tenant, query="Python programming help", top_k=10)
            return results if any(r["id"] == message["id"] for r in results) else None

        results = await eventually("stored message in search results", found)
        for r in results:
            print(f"Score: {r['score']:.3f}")
            print(f"Content: {r['content']}")
            print(f"Role: {r['role']}")
            print("---")
        check(results[0]["id"] == message["id"], f"best result should be the Python message: {results}")

        step("listen_for_updates (WebSocket, Authorization header)")
        tee = Tee(sys.stdout)
        sys.stdout = tee
        try:
            task = asyncio.create_task(listen_for_updates(tenant, access_token))
            await asyncio.sleep(1.0)  # let the socket open (the guide's function gives no "connected" signal)
            if task.done():
                task.result()  # raises the connection error
            live = await store_message(client, tenant, conv, "user", "Live update over the WebSocket")

            async def seen():
                if task.done():
                    task.result()
                return live["id"] in tee.text and "'type': 'message.indexed'" in tee.text

            await eventually("message.indexed event printed by listen_for_updates", seen)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        finally:
            sys.stdout = tee.real

    async with MemoryMeshClient(base_url=base_url, api_key=key["key"]) as key_client:
        step("store_message with the API key client")
        by_key = await store_message(key_client, tenant, conv, "assistant", "Stored with an API key")
        check(by_key["id"] and by_key["tenant_id"] == tenant, f"api-key store: {by_key}")

    print("PY OK", flush=True)


async def main_safe(base_url: str) -> None:
    """The guide's store_message_safe, called as its signature says: (client, message dict)."""
    auth_data = await account(base_url)
    async with MemoryMeshClient(base_url=base_url, access_token=auth_data["access_token"]) as client:
        step("store_message_safe(client, message dict)")
        message = {"tenant_id": "my-app", "conversation_id": "user-123", "role": "user", "content": "Hello"}
        # Known defect of the guide: store_message_safe calls store_message(client, message) with a
        # dict, but store_message takes the fields as separate arguments, so it raises TypeError
        # before any request. Proposed fix for the guide: store_message(client, **message).
        try:
            await store_message_safe(client, message)
            print("guide's store_message_safe as written succeeded", flush=True)
        except TypeError as e:
            print(f"GUIDE DEFECT (as written): TypeError: {e}", flush=True)
        step("store_message(client, **message): the guide's proposed fix")
        stored = await store_message(client, **message)
        check(bool(stored and stored["id"]), f"store_message answer: {stored}")
    print("PY SAFE OK", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    base = args[0] if args else os.environ.get("MEMORY_MESH_URL", "http://localhost:8000")
    run = main_safe if "safe" in args[1:] else main
    try:
        asyncio.run(asyncio.wait_for(run(base), timeout=float(os.environ.get("GUIDE_TIMEOUT_S", "90"))))
    except BaseException as e:  # noqa: BLE001 - report any failure with the step it happened in
        detail = ""
        if isinstance(e, httpx.HTTPStatusError):
            detail = f" body={e.response.text}"
        print(f"PY FAILED at step '{STEP}': {type(e).__name__}: {e}{detail}", file=sys.stderr, flush=True)
        sys.exit(1)
