import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { AppError, payloadTooLarge, unsupportedMediaType } from "../errors";

/** Output pieces of gunzip: a small input that inflates a thousandfold still arrives 64 KiB at a time. */
const INFLATE_CHUNK = 64 * 1024;

/**
 * A request body as it arrives, decompressed when sent with `Content-Encoding: gzip`, and
 * abandoned (413) as soon as it passes `limit` bytes (after decompression: a gzip bomb stops at
 * the limit, never held whole). Other encodings are refused (415).
 */
export async function* bodyChunks(request: Request, limit: number): AsyncGenerator<Uint8Array> {
  if (!request.body) return;
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  const gzip = encoding === "gzip" || encoding === "x-gzip";
  if (!gzip && encoding !== "identity") {
    throw new AppError(415, "unsupported_content_encoding", "Content-Encoding may be gzip or none", { content_encoding: encoding });
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (!gzip && declared > limit) throw payloadTooLarge(limit);
  const source = gzip
    ? Readable.fromWeb(request.body as never).pipe(createGunzip({ chunkSize: INFLATE_CHUNK }))
    : (request.body as AsyncIterable<Uint8Array>);
  let size = 0;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > limit) throw payloadTooLarge(limit);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (gzip) throw new AppError(400, "malformed_gzip", "The body is not valid gzip");
    throw error;
  } finally {
    if (gzip) (source as Readable).destroy();
    else request.body.cancel().catch(() => undefined);
  }
}

/** The whole body (decompressed), at most `limit` bytes, else 413. */
export async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  // The common case, on every write: a declared length within the limit, not compressed. (The server
  // reads no more than the declared length.)
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) <= limit && !request.headers.has("content-encoding")) {
    return new Uint8Array(await request.arrayBuffer());
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of bodyChunks(request, limit)) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads JSON bodies ourselves so every failure has its own status: 415 for another content type,
 * 413 past the limit, 400 for malformed JSON. An empty body is "no body" (clients send
 * `Content-Type: application/json` on GET and DELETE too).
 */
export async function parseJsonBody(request: Request, limit: number): Promise<unknown> {
  const bytes = await readCapped(request, limit);
  if (bytes.byteLength === 0) return null;
  checkJsonType(request);
  try {
    // Invalid UTF-8 is refused, not silently replaced.
    return JSON.parse(utf8.decode(bytes));
  } catch {
    throw malformedJson();
  }
}

/** The media type of a request, lower case, without parameters. */
export const mediaTypeOf = (request: Request) => (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();

function checkJsonType(request: Request): void {
  const type = mediaTypeOf(request);
  if (type !== "application/json" && !type.endsWith("+json")) throw unsupportedMediaType(type || "(none)");
}

const malformedJson = () => new AppError(400, "malformed_json", "The request body is not valid JSON (UTF-8)");
