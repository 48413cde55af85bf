-- One SKU read at one instant: the item, units bought per user, and replayable orders.
-- KEYS: item, bought, replays, orders
-- Returns {item_fields, bought_pairs, {user\0request_id, order_json, ...}}
local replays = redis.call('HGETALL', KEYS[3])
local out = {}
for i = 1, #replays, 2 do
  out[#out + 1] = replays[i]
  out[#out + 1] = redis.call('HGET', KEYS[4], replays[i + 1])
end
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), out}
