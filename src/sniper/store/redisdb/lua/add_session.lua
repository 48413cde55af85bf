-- A new session joins its user's sessions (a sorted set scored by expiry, in the store's epoch
-- ms), if the password checked at login is still the user's (a user replaced meanwhile has had
-- every session revoked: a login that checked the old password must not add one after that).
-- Sessions expired by now leave the set here, so that it holds only what may still be live.
-- KEYS: user, user's sessions; ARGV: token hash, expires ms, set's lifetime ms, now ms,
-- [password hash checked]
-- Returns 1 added, 0 refused.
if ARGV[5] and redis.call('GET', KEYS[1]) ~= ARGV[5] then
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
