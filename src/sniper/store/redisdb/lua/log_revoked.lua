-- Revoked sessions go into the log that every replica reads to drop them from its cache;
-- entries older than a session can live are forgotten (Redis's clock: replicas' may differ).
-- KEYS: log (a stream); ARGV: how long to keep entries in ms, token hash, ...
local t = redis.call('TIME')
local oldest = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1])
redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', oldest))
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'h', ARGV[i])
end
return #ARGV - 1
