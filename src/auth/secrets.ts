import { timingSafeEqual } from "node:crypto";

/** Random URL-safe secret of `bytes` bytes of entropy. */
export function randomSecret(bytes = 32): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");
}

export function randomHexId(bytes = 8): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

/** SHA-256 of a high-entropy secret (API keys, refresh tokens): stored instead of the secret. */
export function hashSecret(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex");
}

/** The same SHA-256 as bytes, for comparing without hex conversions on the request path. */
export function hashSecretBytes(secret: string): Buffer {
  return new Bun.CryptoHasher("sha256").update(secret).digest() as Buffer;
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
