-- An item removed (DELETE), in one step: its fields as they were, or none when there was no
-- such item. Its orders, replays and buyers' units stay (keys of their own).
-- KEYS: item. Returns field, value, ... (empty: no such item).
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return fields
