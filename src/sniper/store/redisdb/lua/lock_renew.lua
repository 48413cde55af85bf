-- Extend the lock only if this owner still holds it (compare-and-extend).
-- KEYS: lock; ARGV: owner token, ttl ms.  Returns 1 renewed, 0 not the owner.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
