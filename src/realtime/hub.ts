import type { Redis } from "ioredis";
import type { Logger } from "../log";
import { keys } from "../store/keys";
import { closeRedis, createRedis } from "../store/redis";
import type { Envelope } from "./model";

export interface Subscriber {
  account: string;
  tenant: string;
  conversation?: string;
  send(data: string): number;
  close(code: number, reason: string): void;
}

export interface Realtime {
  add(sub: Subscriber): void;
  remove(sub: Subscriber): void;
  readonly connections: number;
  /** Closes every socket with `code` (1001 on shutdown) and the subscriber connection. */
  close(code?: number, reason?: string): Promise<void>;
}

/**
 * One Redis subscriber per API instance, whatever the number of sockets: every event published by
 * any process reaches every instance, which hands it to its own sockets of that account and tenant.
 * The same connection hears API-key revocations and passes them to `onKeyRevoked`.
 */
export async function createRealtime(redisUrl: string, log: Logger, onKeyRevoked?: (keyId: string) => void): Promise<Realtime> {
  const subscriber: Redis = createRedis(redisUrl, "subscriber", log);
  const rooms = new Map<string, Set<Subscriber>>();
  const room = (account: string, tenant: string) => `${account}\n${tenant}`;
  const authChannel = keys.authChannel();

  subscriber.on("message", (channel: string, raw: string) => {
    if (channel === authChannel) return void onKeyRevoked?.(raw);
    let envelope: Envelope;
    try {
      envelope = JSON.parse(raw) as Envelope;
    } catch {
      return;
    }
    const subs = rooms.get(room(envelope.account, envelope.event.tenant_id));
    if (!subs) return;
    const data = JSON.stringify(envelope.event);
    for (const sub of subs) {
      if (sub.conversation !== undefined && sub.conversation !== envelope.event.conversation_id) continue;
      sub.send(data);
    }
  });
  await subscriber.subscribe(keys.eventsChannel(), authChannel);

  let count = 0;
  return {
    add(sub) {
      const key = room(sub.account, sub.tenant);
      const set = rooms.get(key) ?? new Set();
      set.add(sub);
      rooms.set(key, set);
      count++;
    },
    remove(sub) {
      const key = room(sub.account, sub.tenant);
      const set = rooms.get(key);
      if (set?.delete(sub)) count--;
      if (set && set.size === 0) rooms.delete(key);
    },
    get connections() {
      return count;
    },
    async close(code = 1001, reason = "server shutting down") {
      for (const set of rooms.values()) for (const sub of set) sub.close(code, reason);
      rooms.clear();
      count = 0;
      await closeRedis(subscriber);
    },
  };
}
