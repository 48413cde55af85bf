-- A new session joins its user's set, if the password checked at login is still the user's
-- (a user replaced meanwhile has had every session revoked: a login that checked the old
-- password must not add one after that).
-- KEYS: user, user's sessions; ARGV: token hash, set's lifetime in ms, [password hash checked]
-- Returns 1 added, 0 refused.
if ARGV[3] and redis.call('GET', KEYS[1]) ~= ARGV[3] then
  return 0
end
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
