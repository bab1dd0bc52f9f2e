/**
 * A stand-in for a remote OpenAI-compatible `/v1/embeddings` API (the one thing the suite fakes:
 * it cannot be reached from here). Vectors are hashed bags of words, so similar texts are close.
 */
export interface FakeOpenAi {
  url: string;
  mode: "ok" | "down" | "rate-limited" | "bad-request";
  requests: { input: string[]; model: string; auth: string | null }[];
  stop(): void;
}

export function bagOfWords(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let hash = 2166136261;
    for (const c of word) hash = Math.imul(hash ^ c.charCodeAt(0), 16777619);
    v[Math.abs(hash) % dims] += 1;
  }
  v[0] += 0.01;
  return v;
}

export function startFakeOpenAi(dims: number): FakeOpenAi {
  const fake: FakeOpenAi = {
    url: "",
    mode: "ok",
    requests: [],
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname !== "/v1/embeddings" || request.method !== "POST") return new Response("not found", { status: 404 });
      const body = (await request.json()) as { input: string[]; model: string };
      fake.requests.push({ input: body.input, model: body.model, auth: request.headers.get("authorization") });
      if (fake.mode === "down") return new Response("upstream unavailable", { status: 503 });
      if (fake.mode === "rate-limited") return Response.json({ error: "slow down" }, { status: 429, headers: { "retry-after": "1" } });
      if (fake.mode === "bad-request") return Response.json({ error: { message: "input too long" } }, { status: 400 });
      return Response.json({
        object: "list",
        model: body.model,
        data: body.input.map((text, index) => ({ object: "embedding", index, embedding: bagOfWords(text, dims) })),
      });
    },
  });
  fake.url = `http://127.0.0.1:${server.port}/v1`;
  return fake;
}
