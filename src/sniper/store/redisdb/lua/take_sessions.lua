-- A user's sessions to revoke, left in its set: each leaves the set only once it is deleted
-- and logged, so that a revocation cut short is finished by the next one. With ARGV[1], the
-- user is replaced (its password hash set) in the same step: a login that checked the old
-- password can no longer add a session.
-- KEYS: user, user's sessions; ARGV: [new password hash ("" for none)]
-- Returns token hash, expires ms, ... of every session in the set.
if #ARGV > 0 then
  redis.call('SET', KEYS[1], ARGV[1])
end
return redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
