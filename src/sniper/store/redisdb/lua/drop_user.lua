-- A user removed: its password hash goes first, so that no login can add a session after this
-- step (add_session.lua checks the hash), and its sessions are returned to be revoked. They
-- stay in its set until each is deleted and logged, so that a removal cut short is finished by
-- the next one (which then still finds the user: a set left over counts as the user).
-- KEYS: user, user's sessions
-- Returns {1 if there was such a user else 0, {token hash, expires ms, ...}}.
local sessions = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local found = redis.call('DEL', KEYS[1])
if #sessions > 0 then
  found = 1
end
return {found, sessions}
