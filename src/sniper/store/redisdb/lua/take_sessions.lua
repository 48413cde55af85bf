-- A user's sessions, taken out of its set to be revoked; with ARGV[1], the user is replaced
-- (its password hash set) in the same step, so that no session can join the set in between.
-- KEYS: user, user's sessions; ARGV: [new password hash ("" for none)]
-- Returns the token hashes that were in the set.
if #ARGV > 0 then
  redis.call('SET', KEYS[1], ARGV[1])
end
local taken = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
return taken
