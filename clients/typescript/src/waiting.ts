import { MemoryMeshError } from "./errors.js";
import { sleep } from "./transport.js";

export interface WaitOptions {
  /** Give up after this long (ms); the wait then throws MemoryMeshError `timeout`. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** First pause between two looks, in ms (default 100); it doubles up to `maxIntervalMs`. */
  intervalMs?: number;
  /** Longest pause between two looks, in ms (default 2000). */
  maxIntervalMs?: number;
}

const TIMED_OUT = Symbol("timed out");

/**
 * Calls `look` until it answers something other than undefined, pausing longer each time (100 ms,
 * 200 ms, ... up to 2 s). Requests in flight are aborted at the deadline, which throws
 * MemoryMeshError `timeout` (with `details` from `pending()`); `signal` aborts with its reason.
 */
export async function poll<T>(
  what: string,
  options: WaitOptions,
  defaultTimeoutMs: number,
  look: (signal: AbortSignal) => Promise<T | undefined>,
  pending: () => unknown = () => undefined,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(TIMED_OUT), timeoutMs);
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let interval = options.intervalMs ?? 100;
  try {
    for (;;) {
      const found = await look(controller.signal);
      if (found !== undefined) return found;
      await sleep(interval, controller.signal);
      interval = Math.min(interval * 2, options.maxIntervalMs ?? 2000);
    }
  } catch (error) {
    if (controller.signal.reason !== TIMED_OUT) throw error;
    throw new MemoryMeshError({ status: 0, code: "timeout", message: `Timed out after ${timeoutMs} ms waiting for ${what}`, details: pending() });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
export async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
