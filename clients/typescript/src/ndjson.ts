import type { ImportLine } from "./types.js";

/** What an import reads: NDJSON text, lines (text or objects), or a stream of NDJSON bytes (e.g. another export). */
export type ImportSource = string | Iterable<string | ImportLine> | AsyncIterable<string | ImportLine> | ReadableStream<Uint8Array>;

/** One JSON value per non-blank line of `stream`, parsed as it arrives; stopping early cancels the stream. */
export async function* parseLines<T>(stream: ReadableStream<Uint8Array>): AsyncGenerator<T, void, undefined> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  let done = false;
  try {
    while (!done) {
      const chunk = await reader.read();
      done = chunk.done;
      rest += done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      const lines = rest.split("\n");
      rest = done ? "" : (lines.pop() ?? "");
      for (const line of lines) if (line.trim() !== "") yield JSON.parse(line) as T;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

const lineOf = (line: string | ImportLine): string => (typeof line === "string" ? line.replace(/\r?\n$/, "") : JSON.stringify(line));

/**
 * An import source as a request body. Text and arrays are sent whole and can be sent again (a
 * retry); other iterables and streams are streamed as they are read, once.
 */
export function importBody(source: ImportSource): { make(): BodyInit; replayable: boolean } {
  if (typeof source === "string") return { make: () => source, replayable: true };
  if (Array.isArray(source)) {
    const text = source.map((line: string | ImportLine) => `${lineOf(line)}\n`).join("");
    return { make: () => text, replayable: true };
  }
  if (source instanceof ReadableStream) return { make: () => source, replayable: false };
  const lines = source as Iterable<string | ImportLine> | AsyncIterable<string | ImportLine>;
  const encoder = new TextEncoder();
  return {
    replayable: false,
    make: () => {
      const iterator = Symbol.asyncIterator in lines ? lines[Symbol.asyncIterator]() : lines[Symbol.iterator]();
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await iterator.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(`${lineOf(next.value)}\n`));
        },
        async cancel() {
          await iterator.return?.();
        },
      });
    },
  };
}
