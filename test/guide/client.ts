/**
 * The TypeScript client code of /work/shared/integration-guide.md, copied as written, driven against a real server.
 *
 * Usage: bun test/guide/client.ts BASE_URL   (or MEMORY_MESH_URL=...)
 * Prints `TS OK` when every step worked; otherwise exits 1 naming the failing step.
 *
 * Only change to the guide's code: `request` is `public` instead of `private` — the guide's own
 * registerUser/login/storeMessage/searchMessages call `client.request(...)` from outside the class,
 * which does not compile as written (TS2341: Property 'request' is private).
 * Also, with Node/Bun typings (no DOM lib; undici-types) `Response.json()` is `Promise<unknown>`, so
 * under `strict` the guide's `request` fails with TS18046 ('error' is of type 'unknown') and TS2322
 * (unknown not assignable to T); `: any` and `as Promise<T>` were added for that (with lib.dom it is `any`).
 * The React hook example is not included (needs React/JSX).
 */

// ---------------------------------------------------------------------------------------------
// Guide: JavaScript/TypeScript / Basic Setup
// ---------------------------------------------------------------------------------------------
interface MemoryMeshClientOptions {
  baseUrl: string;
  accessToken?: string;
  apiKey?: string;
}

class MemoryMeshClient {
  private baseUrl: string;
  private headers: Record<string, string>;

  constructor(options: MemoryMeshClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.headers = {
      'Content-Type': 'application/json',
      ...(options.accessToken && { Authorization: `Bearer ${options.accessToken}` }),
      ...(options.apiKey && { 'x-api-key': options.apiKey }),
    };
  }

  /* CHANGED: `private` -> `public` (see header comment) */
  public async request<T>(
    method: string,
    path: string,
    body?: any,
    params?: Record<string, any>
  ): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    if (params) {
      Object.entries(params).forEach(([key, value]) => {
        url.searchParams.append(key, String(value));
      });
    }

    const response = await fetch(url.toString(), {
      method,
      headers: this.headers,
      body: body ? JSON.stringify(body) : undefined,
    });

    if (!response.ok) {
      /* CHANGED: `: any` added (see header comment) */
      const error: any = await response.json().catch(() => ({ message: response.statusText }));
      throw new Error(error.message || `HTTP ${response.status}`);
    }

    /* CHANGED: `as Promise<T>` added (see header comment) */
    return response.json() as Promise<T>;
  }
}

// ---------------------------------------------------------------------------------------------
// Guide: JavaScript/TypeScript / Authentication (without the "// Usage" snippet)
// ---------------------------------------------------------------------------------------------
// Register
async function registerUser(
  client: MemoryMeshClient,
  email: string,
  username: string,
  password: string
): Promise<any> {
  return client.request('POST', '/v1/auth/register', {
    email,
    username,
    password,
  });
}

// Login
async function login(
  client: MemoryMeshClient,
  email: string,
  password: string
): Promise<{ access_token: string; refresh_token: string }> {
  return client.request('POST', '/v1/auth/login', {
    email,
    password,
  });
}

// ---------------------------------------------------------------------------------------------
// Guide: JavaScript/TypeScript / Storing Messages (without the "// Usage" snippet)
// ---------------------------------------------------------------------------------------------
interface MessageInput {
  tenant_id: string;
  conversation_id: string;
  role: 'user' | 'assistant' | 'system';
  content: string;
  importance?: number;
  metadata?: Record<string, any>;
}

async function storeMessage(
  client: MemoryMeshClient,
  message: MessageInput
): Promise<any> {
  return client.request('POST', '/v1/messages', message);
}

// ---------------------------------------------------------------------------------------------
// Guide: JavaScript/TypeScript / Semantic Search (without the "// Usage" snippet)
// ---------------------------------------------------------------------------------------------
interface SearchOptions {
  tenant_id: string;
  query: string;
  top_k?: number;
  conversation_id?: string;
  min_importance?: number;
}

async function searchMessages(
  client: MemoryMeshClient,
  options: SearchOptions
): Promise<Array<{ id: string; content: string; score: number; role: string }>> {
  const result = await client.request<{ results: any[] }>(
    'GET',
    '/v1/memory/search',
    undefined,
    options
  );
  return result.results;
}

// ---------------------------------------------------------------------------------------------
// Guide: Error Handling / JavaScript/TypeScript
// ---------------------------------------------------------------------------------------------
async function storeMessageSafe(
  client: MemoryMeshClient,
  message: MessageInput
): Promise<any> {
  try {
    return await storeMessage(client, message);
  } catch (error: any) {
    if (error.message.includes('401')) {
      console.error('Authentication failed, please refresh token');
    } else if (error.message.includes('429')) {
      console.error('Rate limited, please retry later');
    } else {
      console.error('Error storing message:', error);
    }
    throw error;
  }
}

// =============================================================================================
// Test driver (not from the guide)
// =============================================================================================
let step = "start";
const begin = (name: string) => {
  step = name;
  process.stderr.write(`[ts] ${name}\n`);
};
function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

async function main(baseUrl: string): Promise<void> {
  const n = `ts${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const email = `${n}@example.com`;
  const tenant = "my-app";
  const conversation = `user-${n}`;

  const client = new MemoryMeshClient({ baseUrl });
  begin("registerUser");
  const user = await registerUser(client, email, n, "SecurePass123");
  check(user.email === email, `register answer: ${JSON.stringify(user)}`);

  begin("login");
  const authData = await login(client, email, "SecurePass123");
  check(authData.access_token && authData.refresh_token, `login answer: ${JSON.stringify(authData)}`);
  const authenticatedClient = new MemoryMeshClient({ baseUrl, accessToken: authData.access_token });

  begin("storeMessage (importance 0.8 + metadata)");
  const message = await storeMessage(authenticatedClient, {
    tenant_id: tenant,
    conversation_id: conversation,
    role: 'user',
    content: 'I need help with TypeScript',
    importance: 0.8,
    metadata: { source: 'web' },
  });
  check(message.id && message.importance === 0.8 && message.metadata?.source === "web", `stored: ${JSON.stringify(message)}`);

  begin("searchMessages (poll until indexed)");
  let results: Awaited<ReturnType<typeof searchMessages>> = [];
  const end = Date.now() + 30_000;
  for (;;) {
    results = await searchMessages(authenticatedClient, { tenant_id: tenant, query: 'TypeScript help', top_k: 10 });
    if (results.some((r) => r.id === message.id)) break;
    if (Date.now() > end) throw new Error(`stored message never appeared in search: ${JSON.stringify(results)}`);
    await Bun.sleep(200);
  }
  results.forEach((result) => {
    console.log(`Score: ${result.score.toFixed(3)}`);
    console.log(`Content: ${result.content}`);
  });

  begin("storeMessageSafe (valid token)");
  const safe = await storeMessageSafe(authenticatedClient, { tenant_id: tenant, conversation_id: conversation, role: 'assistant', content: 'Sure, what about it?' });
  check(safe.id && safe.status === "pending", `storeMessageSafe answer: ${JSON.stringify(safe)}`);

  begin("storeMessageSafe (bad token -> its 401 branch)");
  const printed: string[] = [];
  const realError = console.error;
  console.error = (...args: unknown[]) => {
    printed.push(args.map(String).join(" "));
  };
  let thrown: unknown;
  try {
    await storeMessageSafe(new MemoryMeshClient({ baseUrl, accessToken: "not-a-token" }), { tenant_id: tenant, conversation_id: conversation, role: 'user', content: 'x' });
  } catch (error) {
    thrown = error;
  } finally {
    console.error = realError;
  }
  check(thrown instanceof Error, "storeMessageSafe with a bad token should throw");
  check(printed.includes('Authentication failed, please refresh token'), `401 branch not taken; printed: ${JSON.stringify(printed)}, error: ${thrown.message}`);

  console.log("TS OK");
}

const base = process.argv[2] ?? process.env.MEMORY_MESH_URL ?? "http://localhost:8000";
const timer = setTimeout(() => {
  process.stderr.write(`TS FAILED at step '${step}': timed out\n`);
  process.exit(1);
}, Number(process.env.GUIDE_TIMEOUT_S ?? 90) * 1000);
try {
  await main(base);
  clearTimeout(timer);
} catch (error) {
  process.stderr.write(`TS FAILED at step '${step}': ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

export {};
