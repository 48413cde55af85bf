-- A token bucket shared by every replica: take one token or say how long until one is there.
-- KEYS: bucket; ARGV: rate per second, burst, ["peek": only say the wait, take nothing]
-- Returns 0 when taken (or there, with "peek"), else the wait in milliseconds. The time is
-- Redis's own, so replicas whose clocks differ still share one bucket.
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]) or burst, tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if ARGV[3] == 'peek' then
  if tokens < 1 then
    wait = math.ceil((1 - tokens) * 1000 / rate)
  end
  return wait
end
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
