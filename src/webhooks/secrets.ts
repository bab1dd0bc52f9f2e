import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import type { Config } from "../config";

/**
 * Signing secrets are needed in clear to sign (HMAC), so they cannot be hashed: they are stored
 * encrypted (AES-256-GCM) under a key that lives in the processes' environment, never in Redis. A
 * Redis dump alone therefore does not let anyone forge a delivery. The key is WEBHOOK_SECRET_KEY,
 * or else derived from JWT_SECRET (which production already requires to be strong).
 */
export function secretKey(config: Pick<Config, "WEBHOOK_SECRET_KEY" | "JWT_SECRET">): Buffer {
  const given = config.WEBHOOK_SECRET_KEY;
  if (given) {
    const key = /^[0-9a-f]{64}$/i.test(given) ? Buffer.from(given, "hex") : Buffer.from(given, "base64");
    if (key.length !== 32) throw new Error("WEBHOOK_SECRET_KEY: expected 32 bytes, base64 or hex");
    return key;
  }
  return Buffer.from(hkdfSync("sha256", config.JWT_SECRET, "memory-mesh", "webhook signing secrets", 32));
}

/** A new signing secret: `whsec_` and 24 random bytes, base64 (the Standard Webhooks form). */
export const newSigningSecret = () => `whsec_${randomBytes(24).toString("base64")}`;

export function encryptSecret(key: Buffer, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const sealed = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return `v1:${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString("base64")}`;
}

export function decryptSecret(key: Buffer, stored: string): string {
  const raw = Buffer.from(stored.slice(3), "base64");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under a `whsec_` secret (Standard Webhooks). */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}
