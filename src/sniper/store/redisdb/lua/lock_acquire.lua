-- Take the lock if free (SET NX PX) and hand out the next fencing token (INCR).
-- KEYS: lock, fence counter (same hash tag); ARGV: owner token, ttl ms.
-- Returns the fencing token, or 0 when another owner holds the lock.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
