/** Splits a byte stream into numbered lines (UTF-8), without holding more than one line; an over-long line is reported, not held. */
export async function* numberedLines(chunks: AsyncIterable<Uint8Array>, maxLine: number): AsyncGenerator<{ line: number; text?: string; error?: string }> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let parts: Uint8Array[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  const finish = () => {
    line++;
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (tooLong) {
      tooLong = false;
      return { line, error: `Line longer than ${maxLine} bytes` };
    }
    try {
      return { line, text: decoder.decode(bytes) };
    } catch {
      return { line, error: "Not valid UTF-8" };
    }
  };
  for await (const chunk of chunks) {
    let from = 0;
    for (;;) {
      const at = chunk.indexOf(10, from);
      const piece = chunk.subarray(from, at < 0 ? chunk.length : at);
      if (!tooLong) {
        size += piece.length;
        if (size > maxLine) tooLong = true;
        else if (piece.length > 0) parts.push(piece);
      }
      if (at < 0) break;
      yield finish();
      from = at + 1;
    }
  }
  if (size > 0 || tooLong || parts.length > 0) yield finish();
}
