-- A session being revoked is marked so: no process reads it on a cache miss from now on, while
-- it stays findable (its user, its expiry) until its revocation is logged, so that a logout cut
-- short can be redone. One expired by ARGV[1] (the store's clock) is left as it is.
-- KEYS: session; ARGV: [now ms]. Returns user, expires ms; or nothing when there is none.
local found = redis.call('HMGET', KEYS[1], 'user', 'expires_ms')
if not found[1] then
  return nil
end
if not ARGV[1] or tonumber(found[2]) > tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'revoked', '1')
end
return found
