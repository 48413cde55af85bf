-- wrk script: every request is POST /api/orders with the next user's session cookie.
-- Arguments: TOKENS_FILE SKU. Status codes are counted per thread and summed in done().
local tokens, n = {}, 0
c201, c409, c429, c503, cother = 0, 0, 0, 0, 0

function setup(thread)
  threads = threads or {}
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  body = '{"sku_id":"' .. args[2] .. '","qty":1}'
end

function request()
  n = n + 1
  local headers = {["Content-Type"] = "application/json",
                   ["Cookie"] = "session=" .. tokens[(n % #tokens) + 1]}
  return wrk.format("POST", "/api/orders", headers, body)
end

function response(status, headers, body)
  if status == 201 then c201 = c201 + 1
  elseif status == 409 then c409 = c409 + 1
  elseif status == 429 then c429 = c429 + 1
  elseif status == 503 then c503 = c503 + 1
  else cother = cother + 1 end
end

function done(summary, latency, requests)
  local t = {c201 = 0, c409 = 0, c429 = 0, c503 = 0, cother = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format(
    "STATUS {\"201\": %d, \"409\": %d, \"429\": %d, \"503\": %d, \"other\": %d}\n",
    t.c201, t.c409, t.c429, t.c503, t.cother))
  io.write(string.format("LATENCY {\"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
