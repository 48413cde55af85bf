-- Create or replace an item (PUT): the old fields go, the new ones come, in one step.
-- KEYS: item; ARGV: field, value, ...
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
