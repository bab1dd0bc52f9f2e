import type { Embedder } from "../store/embeddings";

interface Pending {
  text: string;
  since: number;
  resolve(v: Float32Array): void;
  reject(e: unknown): void;
}

export interface BatchStats {
  size: number;
  ms: number;
  ok: boolean;
}

/**
 * Batches embedding requests across jobs: texts from every concurrently active job are collected
 * until `size` are waiting or the oldest has waited `waitMs`, then the embedder is called once.
 * One call runs at a time (the model is CPU bound); texts arriving meanwhile form the next batch.
 */
export function createEmbedBatcher(embedder: Embedder, size: number, waitMs: number, onBatch?: (s: BatchStats) => void) {
  const queue: Pending[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let busy = false;

  function schedule(): void {
    if (busy || queue.length === 0) return;
    const waited = performance.now() - queue[0].since;
    if (queue.length >= size || waited >= waitMs) {
      void flush();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        schedule();
      }, waitMs - waited);
    }
  }

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    busy = true;
    const batch = queue.splice(0, size);
    const t0 = performance.now();
    try {
      const vectors = await embedder.embed(batch.map((p) => p.text));
      onBatch?.({ size: batch.length, ms: performance.now() - t0, ok: true });
      for (const [i, p] of batch.entries()) p.resolve(vectors[i]);
    } catch (error) {
      onBatch?.({ size: batch.length, ms: performance.now() - t0, ok: false });
      for (const p of batch) p.reject(error);
    } finally {
      busy = false;
      schedule();
    }
  }

  return {
    embed(texts: string[]): Promise<Float32Array[]> {
      const now = performance.now();
      const promises = texts.map((text) => new Promise<Float32Array>((resolve, reject) => queue.push({ text, since: now, resolve, reject })));
      schedule();
      return Promise.all(promises);
    },
    get waiting() {
      return queue.length;
    },
  };
}

export type EmbedBatcher = ReturnType<typeof createEmbedBatcher>;
