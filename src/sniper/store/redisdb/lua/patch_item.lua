-- Change the named fields of an existing item; nothing if there is no such item.
-- KEYS: item; ARGV: field, value, ...  Returns the item's fields, or false.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
if #ARGV > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
end
return redis.call('HGETALL', KEYS[1])
