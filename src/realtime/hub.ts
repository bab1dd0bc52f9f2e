import type { RedisClient } from "../store/redis";
import { parseRevocation, type Revocation } from "../auth/revocation";
import type { Deps } from "../deps";
import { allShards, keys } from "../store/keys";
import { closeRedis } from "../store/redis";
import type { Envelope } from "../events/model";
import { CLOSE_CODES } from "./model";

export interface Subscriber {
  account: string;
  tenant: string;
  conversation?: string;
  /** the API key the socket was opened with, if any */
  keyId?: string;
  /** when the credential it was opened with expires (ms since the epoch) */
  expiresAt?: number;
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

/** Timers cannot be set further out than ~24.8 days; a socket open that long is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One Redis subscriber per API instance, whatever the number of sockets: every event published by
 * any process (on its shard's channel) reaches every instance, which hands it to its own sockets of that account and tenant.
 * A socket lives no longer than what authorised it: the same connection hears revocations (an API
 * key revoked, an account deleted), passes them to `onRevoked` and closes the sockets they
 * authorised; a socket is closed when its credential expires.
 */
export async function createRealtime(deps: Pick<Deps, "connect">, onRevoked?: (revocation: Revocation) => void): Promise<Realtime> {
  const subscriber: RedisClient = deps.connect("subscriber");
  const rooms = new Map<string, Set<Subscriber>>();
  const expiries = new Map<Subscriber, ReturnType<typeof setTimeout>>();
  const room = (account: string, tenant: string) => `${account}\n${tenant}`;
  const authChannel = keys.authChannel();
  let count = 0;

  const closeWhere = (match: (sub: Subscriber) => boolean, code: number, reason: string) => {
    for (const set of [...rooms.values()]) for (const sub of [...set]) if (match(sub)) drop(sub, code, reason);
  };
  const revoke = (revocation: Revocation) => {
    onRevoked?.(revocation);
    if (revocation.kind === "api_key") closeWhere((s) => s.keyId === revocation.id, CLOSE_CODES.revoked, "API key revoked");
    else closeWhere((s) => s.account === revocation.id, CLOSE_CODES.accountDeleted, "account deleted");
  };
  const armExpiry = (sub: Subscriber) => {
    if (sub.expiresAt === undefined) return;
    const left = sub.expiresAt - Date.now();
    if (left <= 0) return drop(sub, CLOSE_CODES.expired, "credential expired");
    expiries.set(sub, setTimeout(() => (left > MAX_TIMER_MS ? armExpiry(sub) : drop(sub, CLOSE_CODES.expired, "credential expired")), Math.min(left, MAX_TIMER_MS)));
  };
  const forget = (sub: Subscriber): boolean => {
    clearTimeout(expiries.get(sub));
    expiries.delete(sub);
    const key = room(sub.account, sub.tenant);
    const set = rooms.get(key);
    const had = set?.delete(sub) ?? false;
    if (set && set.size === 0) rooms.delete(key);
    return had;
  };
  const drop = (sub: Subscriber, code: number, reason: string) => {
    if (forget(sub)) count--;
    sub.close(code, reason);
  };

  subscriber.on("message", (channel: string, raw: string) => {
    if (channel === authChannel) revoke(parseRevocation(raw));
  });
  subscriber.on("smessage", (_channel: string, raw: string) => {
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
  // Message events travel on each shard's own channel (sharded pub/sub: on a cluster, only the
  // master of that shard's slot carries them); revocations, rare, on one ordinary channel.
  await subscriber.subscribe(authChannel);
  for (const k of allShards()) await subscriber.ssubscribe(keys.eventsChannel(k));

  return {
    add(sub) {
      const key = room(sub.account, sub.tenant);
      const set = rooms.get(key) ?? new Set();
      set.add(sub);
      rooms.set(key, set);
      count++;
      armExpiry(sub);
    },
    remove(sub) {
      if (forget(sub)) count--;
    },
    get connections() {
      return count;
    },
    async close(code = 1001, reason = "server shutting down") {
      closeWhere(() => true, code, reason);
      await closeRedis(subscriber);
    },
  };
}
