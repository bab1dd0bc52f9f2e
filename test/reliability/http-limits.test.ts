import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { freePort } from "../../src/store/redis-server";
import { eventually } from "../helpers/app";
import { startTestRedis } from "../helpers/redis";

/**
 * Limits that Bun's HTTP layer would enforce itself, with an empty answer, checked over a real
 * socket against the API as `bun run api` starts it: every refusal is JSON with a request id.
 */
let api: Subprocess;
let port: number;
let stopRedis: () => Promise<void>;

beforeAll(async () => {
  const redis = await startTestRedis();
  stopRedis = redis.stop;
  port = await freePort();
  api = Bun.spawn(["bun", "run", "api"], {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "error", REDIS_URL: redis.url, PORT: String(port), API_METRICS_PORT: "0", MAX_BODY_BYTES: "2048" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await eventually("api listening", async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok, 60_000);
}, 90_000);

afterAll(async () => {
  api.kill("SIGTERM");
  await api.exited;
  await stopRedis();
});

/** Sends raw bytes and reads the whole answer (the request asks the server to close). */
function raw(request: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    let text = "";
    const done = () => {
      const [head, ...rest] = text.split("\r\n\r\n");
      const [statusLine, ...lines] = head.split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") });
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (s) => void s.write(request),
        data: (_, chunk) => {
          text += chunk.toString();
        },
        close: done,
        error: (_, e) => reject(e),
      },
    });
  });
}

const expectJsonError = (answer: Awaited<ReturnType<typeof raw>>, status: number, code: string) => {
  expect(answer.status).toBe(status);
  expect(answer.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  const length = Number(answer.headers["content-length"] ?? answer.body.length);
  expect(JSON.parse(answer.body.slice(0, length))).toMatchObject({ code, request_id: answer.headers["x-request-id"] });
};

describe("refusals Bun would answer with an empty body", () => {
  test("a declared body over MAX_BODY_BYTES is a JSON 413, answered before the body is read", async () => {
    const answer = await raw(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\nConnection: close\r\n\r\n{}`);
    expectJsonError(answer, 413, "payload_too_large");
  });

  test("a chunked body that grows past MAX_BODY_BYTES is a JSON 413", async () => {
    const chunk = "a".repeat(3000);
    const answer = await raw(
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expectJsonError(answer, 413, "payload_too_large");
  });

  test("headers over MAX_HEADER_BYTES are a JSON 431", async () => {
    const answer = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${"p".repeat(20_000)}\r\nConnection: close\r\n\r\n`);
    expectJsonError(answer, 431, "headers_too_large");
  });

  test("a request within the limits is answered as usual", async () => {
    const answer = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${"p".repeat(8_000)}\r\nConnection: close\r\n\r\n`);
    expect(answer.status).toBe(200);
  });
});
