-- The reservation step for a batch of one SKU's reservations, atomically and in their order
-- (for each, the same checks, in the same order, as rules.decide).
-- KEYS: item, bought, replays, orders, stream, by_user (one SKU: every key carries its {sku} tag)
-- ARGV: n, then n times: user, qty, request_id ('' for none), now_ms, order_id, order_json
-- Returns {{outcome, stock_left_or_false, order_json_or_false}..., item_fields_or_false}: the
-- item's fields (after the batch) when any reservation was refused, for the caller's cache.
local n = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'stock', 'sale_start_ms', 'limit_per_user')
local results = {}
local stock, start, limit = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
local taken, refused = 0, false
for i = 1, n do
  local base = 1 + (i - 1) * 6
  local user, qty, rid = ARGV[base + 1], tonumber(ARGV[base + 2]), ARGV[base + 3]
  local now, oid, order = tonumber(ARGV[base + 4]), ARGV[base + 5], ARGV[base + 6]
  local seen = false
  if rid ~= '' then
    seen = redis.call('HGET', KEYS[3], user .. '\0' .. rid)
  end
  if redis.call('HEXISTS', KEYS[4], oid) == 1 then
    -- This very call again (a batch resent after a lost reply): its order exists.
    results[i] = {'created', stock, false}
  elseif seen then
    results[i] = {'replayed', false, redis.call('HGET', KEYS[4], seen)}
  elseif not stock then
    results[i] = {'not_found', false, false}
  else
    local refusal
    if now < start then
      refusal = 'not_started'
    elseif tonumber(redis.call('HGET', KEYS[2], user) or '0') + qty > limit then
      refusal = 'limit_reached'
    elseif stock < qty then
      refusal = 'sold_out'
    end
    if refusal then
      refused = true
      results[i] = {refusal, stock, false}
    else
      stock, taken = stock - qty, taken + qty
      redis.call('HINCRBY', KEYS[2], user, qty)
      redis.call('HSET', KEYS[4], oid, order)
      local mine = redis.call('HGET', KEYS[6], user)
      redis.call('HSET', KEYS[6], user, mine and (mine .. ',' .. oid) or oid)
      if rid ~= '' then
        redis.call('HSET', KEYS[3], user .. '\0' .. rid, oid)
      end
      redis.call('XADD', KEYS[5], '*', 'order', order)
      results[i] = {'created', stock, false}
    end
  end
end
if taken > 0 then
  redis.call('HINCRBY', KEYS[1], 'stock', -taken)
end
results[n + 1] = refused and redis.call('HGETALL', KEYS[1]) or false
return results
