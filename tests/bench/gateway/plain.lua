-- wrk script for the reference server (nginx `return 200`): POST the same message, unchanged, as
-- one pre-built request (no Lua runs per request, the cheapest load wrk can make).
--
--   BENCH_BODY=message.json wrk -t1 -c64 -d15s --latency -s plain.lua http://127.0.0.1:PORT/v1/messages
--
-- wrk itself counts answers that are not 2xx/3xx (errors.status); done() prints them and one
-- "RESULT k=v ..." line in the format of post.lua's (latencies in ms).

local path = os.getenv("BENCH_BODY")
if not path or path == "" then error("plain.lua: set BENCH_BODY to the message file") end
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local ok = summary.requests - e.status
  io.write(string.format("statuses: %d x 2xx/3xx, %d other; socket errors: connect %d, read %d, " ..
      "write %d, timeout %d\n", ok, e.status, e.connect, e.read, e.write, e.timeout))
  if e.status > 0 then io.write("WARNING: not every answer was 2xx/3xx\n") end
  io.write(string.format("RESULT expect=200 ok=%d other=%d requests=%d secs=%.3f ok_rate=%.1f " ..
      "rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f err_connect=%d err_read=%d " ..
      "err_write=%d err_timeout=%d err_status=%d\n",
    ok, e.status, summary.requests, secs, ok / secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect, e.read, e.write, e.timeout, e.status))
end
