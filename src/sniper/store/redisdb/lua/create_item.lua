-- A catalog entry: created only if the item does not exist yet (a restart mid-sale never
-- resets live stock), and only by a holder whose fencing token is not older than the last one
-- seen for this item (a lock holder that lost its lock while paused cannot write).
-- KEYS: item, fence; ARGV: fencing token, field, value, ...
-- Returns 1 created, 0 already there, -1 fenced off.
local token = tonumber(ARGV[1])
if token < tonumber(redis.call('GET', KEYS[2]) or '0') then
  return -1
end
redis.call('SET', KEYS[2], token)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
