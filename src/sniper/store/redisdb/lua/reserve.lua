-- The whole reservation step, atomically (the same checks, in the same order, as rules.decide).
-- KEYS: item, bought, replays, orders, stream, by_user (one SKU: every key carries its {sku} tag)
-- ARGV: user, qty, request_id ('' for none), now_ms, order_id, order_json
-- Returns {outcome, stock_left_or_false, order_json_or_item_fields...}
local user, qty, rid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now, oid, order = tonumber(ARGV[4]), ARGV[5], ARGV[6]
-- This very call again (a client resending after a lost reply): its order exists, answer it.
if redis.call('HEXISTS', KEYS[4], oid) == 1 then
  return {'created', tonumber(redis.call('HGET', KEYS[1], 'stock'))}
end
if rid ~= '' then
  local seen = redis.call('HGET', KEYS[3], user .. '\0' .. rid)
  if seen then
    return {'replayed', false, redis.call('HGET', KEYS[4], seen)}
  end
end
local f = redis.call('HMGET', KEYS[1], 'stock', 'sale_start_ms', 'limit_per_user')
if not f[1] then
  return {'not_found', false}
end
local stock, start, limit = tonumber(f[1]), tonumber(f[2]), tonumber(f[3])
local refusal
if now < start then
  refusal = 'not_started'
elseif tonumber(redis.call('HGET', KEYS[2], user) or '0') + qty > limit then
  refusal = 'limit_reached'
elseif stock < qty then
  refusal = 'sold_out'
end
if refusal then
  return {refusal, stock, redis.call('HGETALL', KEYS[1])}
end
local left = redis.call('HINCRBY', KEYS[1], 'stock', -qty)
redis.call('HINCRBY', KEYS[2], user, qty)
redis.call('HSET', KEYS[4], oid, order)
local mine = redis.call('HGET', KEYS[6], user)
redis.call('HSET', KEYS[6], user, mine and (mine .. ',' .. oid) or oid)
if rid ~= '' then
  redis.call('HSET', KEYS[3], user .. '\0' .. rid, oid)
end
redis.call('XADD', KEYS[5], '*', 'order', order)
return {'created', left}
