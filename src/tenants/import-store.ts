import type { CallerCharge } from "../auth/rate-limit";
import { rateDecision, TAKE_RATE_LUA } from "../auth/rate-limit";
import type { Deps } from "../deps";
import { MOVE_STATUS_LUA } from "../messages/status";
import { keys } from "../store/keys";
import { Script } from "../store/script";

/**
 * Stores a batch of imported messages in one atomic step, charging the rate limit for the new
 * ones only (a re-run costs nothing and changes nothing). An id already stored with the same
 * fingerprint is left as it is (0), with another one is a conflict (-1, nothing written for it).
 * A message with a vector of the server's model is stored indexed with it; any other is pending and
 * queued like an accepted one. Conversations are created as by accepting; their last activity only
 * moves forward. Returns {1, used, limit, result per message} or {-2, used, limit} past the limit.
 * KEYS: tenants, outbox, dispatch, expiries, stats, rate, account rate, then 8 per message:
 * message, conversation, conversations, conversation tenants, conversation messages, tenant
 * messages, tenant stats, vector key. ARGV: n, now, unit, limit, window ms, account limit, then per
 * message: id, tenant, conversation, role, content, importance, metadata, fp, created_at, created ms,
 * position, status, indexed_at, expires_at, expires ms, outbox member, write mode, field count, fields.
 */
const IMPORT = new Script(`${TAKE_RATE_LUA}${MOVE_STATUS_LUA}
local n = tonumber(ARGV[1])
local now = ARGV[2]
local args = {}
local a = 7
for i = 1, n do
  local count = tonumber(ARGV[a + 17])
  args[i] = a
  a = a + 18 + count
end
local results = {}
local fresh = 0
for i = 1, n do
  local k = 8 + (i - 1) * 8
  local fp = redis.call('HGET', KEYS[k], 'fp')
  if fp == false then
    results[i] = 1
    fresh = fresh + 1
  elseif fp == ARGV[args[i] + 7] then
    results[i] = 0
  else
    results[i] = -1
  end
end
local cost = math.ceil(fresh / tonumber(ARGV[3]))
local allowed, used, limit = take_rates(KEYS[6], tonumber(ARGV[4]), KEYS[7], tonumber(ARGV[6]), cost, tonumber(ARGV[5]))
if allowed == 0 then return {-2, used, limit} end
local indexed = 0
for i = 1, n do
  if results[i] == 1 then
    local k = 8 + (i - 1) * 8
    local b = args[i]
    local status = ARGV[b + 11]
    redis.call('HSET', KEYS[k], 'id', ARGV[b], 'tenant_id', ARGV[b + 1], 'conversation_id', ARGV[b + 2], 'role', ARGV[b + 3],
      'content', ARGV[b + 4], 'importance', ARGV[b + 5], 'metadata', ARGV[b + 6], 'fp', ARGV[b + 7],
      'created_at', ARGV[b + 8], 'created_ms', ARGV[b + 9])
    move_status(KEYS[k], KEYS[k + 6], status)
    local conv = KEYS[k + 1]
    if redis.call('HINCRBY', conv, 'message_count', 1) == 1 and redis.call('HEXISTS', conv, 'tenant_id') == 0 then
      redis.call('HSET', conv, 'tenant_id', ARGV[b + 1], 'conversation_id', ARGV[b + 2], 'title', '', 'metadata', 'null',
        'created_at', ARGV[b + 8], 'updated_at', ARGV[b + 8], 'last_message_at', ARGV[b + 8])
      redis.call('SADD', KEYS[k + 3], ARGV[b + 1])
      redis.call('SADD', KEYS[1], ARGV[b + 1])
    else
      local last = redis.call('HGET', conv, 'last_message_at')
      if not last or last < ARGV[b + 8] then redis.call('HSET', conv, 'last_message_at', ARGV[b + 8]) end
    end
    redis.call('ZADD', KEYS[k + 2], 'GT', ARGV[b + 9], ARGV[b + 2])
    redis.call('ZADD', KEYS[k + 4], ARGV[b + 10], ARGV[b])
    redis.call('ZADD', KEYS[k + 5], ARGV[b + 10], ARGV[b])
    if ARGV[b + 14] ~= '' then
      redis.call('HSET', KEYS[k], 'expires_at', ARGV[b + 13], 'expires_ms', ARGV[b + 14])
      redis.call('ZADD', KEYS[4], ARGV[b + 14], ARGV[b + 15])
    end
    if status == 'indexed' then
      redis.call('HSET', KEYS[k], 'indexed_at', ARGV[b + 12])
      redis.call('HSET', KEYS[k + 7], unpack(ARGV, b + 18, b + 17 + tonumber(ARGV[b + 17])))
      indexed = indexed + 1
    else
      redis.call('ZADD', KEYS[2], now, ARGV[b + 15])
      redis.call('RPUSH', KEYS[3], ARGV[b + 15])
    end
  end
end
if fresh > 0 then redis.call('HINCRBY', KEYS[5], 'accepted', fresh) end
if indexed > 0 then redis.call('HINCRBY', KEYS[5], 'indexed', indexed) end
local reply = {1, used, limit}
for i = 1, n do reply[#reply + 1] = results[i] end
return reply
`);

/**
 * Applies a conversation line: creates the conversation if missing, sets its title, metadata and
 * times as exported, and its activity (what lists sort by) forward to the exported one.
 * KEYS: conversation, conversations, conversation tenants, tenants.
 * ARGV: tenant, conversation, title, metadata, created_at, updated_at, last_message_at, activity ms.
 */
const IMPORT_CONVERSATION = new Script(`
if redis.call('HEXISTS', KEYS[1], 'tenant_id') == 0 then
  redis.call('HSET', KEYS[1], 'tenant_id', ARGV[1], 'conversation_id', ARGV[2])
  if redis.call('HEXISTS', KEYS[1], 'message_count') == 0 then redis.call('HSET', KEYS[1], 'message_count', 0) end
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[1])
end
redis.call('HSET', KEYS[1], 'title', ARGV[3], 'metadata', ARGV[4], 'created_at', ARGV[5], 'updated_at', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'last_message_at', ARGV[7]) end
redis.call('ZADD', KEYS[2], 'GT', ARGV[8], ARGV[2])
return 1
`);

/** A message line checked and ready to store. */
export interface PreparedLine {
  line: number;
  id: string;
  conversation: string;
  args: (string | number | Buffer)[];
  vectorKey: string;
  withVector: boolean;
}

/** Stores a batch of prepared lines (IMPORT); `refused` past the rate limit, with nothing stored. */
export async function storeMessages(deps: Pick<Deps, "config" | "redis">, account: string, tenant: string, batch: PreparedLine[], now: number, charge: CallerCharge) {
  const keyList: string[] = [
    keys.tenants(account), keys.outboxOf(account), keys.dispatchOf(account), keys.expiriesOf(account), keys.statsOf(account), charge.key, charge.also.key,
  ];
  const args: (string | number | Buffer)[] = [batch.length, now, deps.config.RATE_LIMIT_BATCH_UNIT, charge.limit, charge.windowMs, charge.also.limit];
  for (const p of batch) {
    keyList.push(
      keys.message(account, p.id),
      keys.conversation(account, tenant, p.conversation),
      keys.conversations(account, tenant),
      keys.conversationTenants(account, p.conversation),
      keys.conversationMessages(account, tenant, p.conversation),
      keys.tenantMessages(account, tenant),
      keys.tenantStats(account, tenant),
      p.vectorKey,
    );
    args.push(...p.args);
  }
  const [code, used, limit, ...results] = await IMPORT.run<number[]>(deps.redis, keyList, args as (string | number)[]);
  const decision = rateDecision(charge, [code === -2 ? 0 : 1, used, limit]);
  return { refused: code === -2, decision, results };
}

/** Applies a checked conversation line (IMPORT_CONVERSATION); `fields`: title, metadata, created_at, updated_at, last_message_at, activity ms. */
export async function storeConversation(deps: Pick<Deps, "redis">, account: string, tenant: string, conversation: string, fields: (string | number)[]): Promise<void> {
  await IMPORT_CONVERSATION.run(
    deps.redis,
    [keys.conversation(account, tenant, conversation), keys.conversations(account, tenant), keys.conversationTenants(account, conversation), keys.tenants(account)],
    [tenant, conversation, ...fields],
  );
}
