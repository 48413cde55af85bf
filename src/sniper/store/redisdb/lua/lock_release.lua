-- Release the lock only if this owner still holds it (compare-and-delete).
-- KEYS: lock; ARGV: owner token.  Returns 1 released, 0 not the owner.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
