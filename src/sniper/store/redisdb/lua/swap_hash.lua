-- A user's password hash replaced by a stronger one of the same password, unless the user was
-- replaced meanwhile. KEYS: user; ARGV: old hash, new hash. Returns 1 swapped, 0 not.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
