/**
 * Lua shared by every script that changes a message's status, so each tenant's counts by status
 * (keys.tenantStats) move in the same atomic step as the status itself and never drift.
 * `move_status(message_key, tenant_stats_key, new_status)`: `new_status` false = the message goes.
 */
export const MOVE_STATUS_LUA = `
local function move_status(msg, tstats, new)
  local old = redis.call('HGET', msg, 'status')
  if old == new then return end
  if old then redis.call('HINCRBY', tstats, old, -1) end
  if new then
    redis.call('HSET', msg, 'status', new)
    redis.call('HINCRBY', tstats, new, 1)
  end
end
`;
