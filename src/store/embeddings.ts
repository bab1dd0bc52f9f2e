import type { Config } from "../config";
import type { Logger } from "../log";

/** One embedding provider: a model id, its dimension, and a batched `embed`. Vectors are unit length. */
export interface Embedder {
  /** Stable id of provider + model + dimension; part of the vector index name. */
  readonly modelKey: string;
  readonly dimensions: number;
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Releases what the provider holds (the local model's thread). */
  close?(): Promise<void>;
}

export class EmbedderError extends Error {
  constructor(
    message: string,
    /** false when the input itself can never be embedded */
    readonly retryable = true,
  ) {
    super(message);
    this.name = "EmbedderError";
  }
}

export function modelKeyOf(provider: string, model: string, dimensions: number): string {
  return `${provider}-${model}-${dimensions}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
}

/** A vector as the FLOAT32 bytes Redis stores and queries with. */
export function toBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function normalize(values: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(values);
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i] * out[i];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

/**
 * Universal Sentence Encoder lite, shipped inside npm packages: offline, 512-d, loaded once per
 * process, run in a worker thread so the event loop never waits on the model.
 */
export function createLocalEmbedder(): Embedder {
  type Reply = { id: number; vectors?: Float32Array[]; error?: string };
  let thread: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve(v: Float32Array[]): void; reject(e: Error): void }>();
  const start = () => {
    const worker = new Worker(new URL("./local-embedder-thread.ts", import.meta.url).href);
    worker.onmessage = (event: MessageEvent<Reply>) => {
      const { id, vectors, error } = event.data;
      const waiter = pending.get(id);
      pending.delete(id);
      if (pending.size === 0) worker.unref();
      if (!waiter) return;
      if (vectors) waiter.resolve(vectors.map(normalize));
      else waiter.reject(new EmbedderError(`local model failed: ${error}`));
    };
    worker.onerror = (event) => {
      for (const waiter of pending.values()) waiter.reject(new EmbedderError(`local model thread crashed: ${event.message}`));
      pending.clear();
      thread = undefined;
    };
    return worker;
  };
  return {
    modelKey: modelKeyOf("local", "use-lite", 512),
    dimensions: 512,
    embed(texts) {
      if (texts.length === 0) return Promise.resolve([]);
      thread ??= start();
      const worker = thread;
      worker.ref();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, texts });
      });
    },
    async close() {
      thread?.terminate();
      thread = undefined;
    },
  };
}

/** Any OpenAI-compatible `/embeddings` endpoint (OpenAI, Azure, Ollama, vLLM, TEI). */
export function createOpenAiEmbedder(config: Config, log?: Logger): Embedder {
  const url = `${config.OPENAI_BASE_URL.replace(/\/+$/, "")}/embeddings`;
  const dimensions = config.EMBEDDING_DIMENSIONS;
  const sendDimensions = config.EMBEDDING_MODEL.startsWith("text-embedding-3");
  const maxRateLimitWaits = 3;

  async function call(texts: string[]): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(config.OPENAI_API_KEY ? { authorization: `Bearer ${config.OPENAI_API_KEY}` } : {}),
          },
          body: JSON.stringify({
            model: config.EMBEDDING_MODEL,
            input: texts,
            ...(sendDimensions ? { dimensions } : {}),
          }),
          signal: AbortSignal.timeout(config.EMBED_TIMEOUT_MS),
        });
      } catch (error) {
        throw new EmbedderError(`embedding endpoint unreachable: ${(error as Error).message}`);
      }
      if (response.status !== 429 || attempt >= maxRateLimitWaits) return response;
      const waitS = retryAfterSeconds(response.headers.get("retry-after"));
      log?.warn({ waitS, attempt }, "embedding provider rate limited; honouring Retry-After");
      await response.body?.cancel();
      await Bun.sleep(Math.min(waitS * 1000, config.EMBED_TIMEOUT_MS));
    }
  }

  return {
    modelKey: modelKeyOf("openai", config.EMBEDDING_MODEL, dimensions),
    dimensions,
    async embed(texts) {
      if (texts.length === 0) return [];
      const response = await call(texts);
      if (!response.ok) {
        const body = (await response.text().catch(() => "")).slice(0, 300);
        const retryable = response.status === 429 || response.status >= 500 || response.status === 408;
        throw new EmbedderError(`embedding endpoint answered ${response.status}: ${body}`, retryable);
      }
      const json = (await response.json().catch(() => null)) as {
        data?: { index?: number; embedding?: number[] }[];
      } | null;
      const data = json?.data;
      if (!Array.isArray(data) || data.length !== texts.length)
        throw new EmbedderError("embedding endpoint returned a malformed answer");
      const ordered = [...data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      return ordered.map((item) => {
        if (!Array.isArray(item.embedding) || item.embedding.length !== dimensions)
          throw new EmbedderError(
            `embedding endpoint returned ${item.embedding?.length ?? 0} dimensions; EMBEDDING_DIMENSIONS is ${dimensions}`,
            false,
          );
        return normalize(item.embedding);
      });
    },
  };
}

function retryAfterSeconds(header: string | null): number {
  if (!header) return 1;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, (date - Date.now()) / 1000) : 1;
}

export function createEmbedder(config: Config, log?: Logger): Embedder {
  return config.EMBEDDING_PROVIDER === "openai" ? createOpenAiEmbedder(config, log) : createLocalEmbedder();
}
