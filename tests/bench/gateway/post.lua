-- wrk script: POST /v1/messages with a fresh messageId (random v4 UUID) in every request, and count
-- the answers by status so that a run that quietly got errors shows it.
--
-- BENCH_ID_KIND=v7 makes the ids time-ordered instead (RFC 9562 version 7 layout: a 48-bit
-- millisecond timestamp, then a 12-bit counter, then random bits; the clock is the seconds of
-- os.time() advanced by the counter, since wrk's Lua has no millisecond clock). It checks that
-- the order of partners' ids does not matter to the gateway's idempotency table (it did, by
-- ~25%, while that was an index on the ids).
--
--   wrk -t1 -c64 -d15s --latency -s post.lua http://127.0.0.1:PORT/v1/messages -- BODY KEY [EXPECT]
--
-- BODY: the message template (default: $BENCH_BODY); its first "messageId" value is replaced in
-- every request. KEY: the partner's API key, sent as "Authorization: Bearer KEY" (default:
-- $BENCH_KEY; none: no Authorization header). EXPECT: the status that counts as success (default
-- $BENCH_EXPECT, else 202: a new durable write). An idempotent replay would be a 200 and counts
-- as "other".
--
-- The template needs nothing else changed: a dispute.application without payload.caseId opens a
-- new case each time, and the messageId is the only key the gateway deduplicates on.
--
-- done() prints a human line and one "RESULT k=v ..." line (latencies in ms) for run.sh.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

-- Seed each thread's generator from /dev/urandom, so that two runs started in the same second
-- (or two threads) never produce the same sequence of UUIDs.
local function seed()
  local f = io.open("/dev/urandom", "rb")
  local s = 0
  if f then
    local bytes = f:read(6)
    f:close()
    for i = 1, #bytes do s = s * 256 + bytes:byte(i) end
  else
    s = os.time() * 1000 + (id or 0)
  end
  math.randomseed(s)
  for _ = 1, 16 do math.random() end
end

local rnd = math.random
local fmt = string.format

-- RFC 9562 version 4: 122 random bits, version nibble 4, variant bits 10.
local function uuid4()
  return fmt("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
    rnd(0, 0xffff), rnd(0, 0xffff), rnd(0, 0xffff), rnd(0, 0xfff),
    rnd(0x8000, 0xbfff), rnd(0, 0xffff), rnd(0, 0xffff), rnd(0, 0xffff))
end

-- Time-ordered, per thread: each thread's ids increase.
local seq, base_ms = 0, nil
local function uuid7()
  if not base_ms then base_ms = os.time() * 1000 end
  seq = seq + 1
  local ms = base_ms + math.floor(seq / 4096)
  return fmt("%08x-%04x-7%03x-%04x-%04x%04x%04x",
    math.floor(ms / 65536), ms % 65536, seq % 4096,
    rnd(0x8000, 0xbfff), rnd(0, 0xffff), rnd(0, 0xffff), rnd(0, 0xffff))
end

local new_id = uuid4
local prefix, suffix, headers
expect = 202
ok = 0
other = 0
statuses = {}

function init(args)
  local path = args[1] or os.getenv("BENCH_BODY")
  local key = args[2] or os.getenv("BENCH_KEY")
  expect = tonumber(args[3] or os.getenv("BENCH_EXPECT") or "202")
  if not path or path == "" then error("post.lua: no body file (argument 1 or BENCH_BODY)") end
  local f = assert(io.open(path, "rb"))
  local body = f:read("*a")
  f:close()
  -- Split the template around the messageId's value: prefix .. uuid .. suffix.
  local s, e = body:find('"messageId"%s*:%s*"[^"]*"')
  if not s then error("post.lua: no \"messageId\" in " .. path) end
  if body:find('"messageId"', e + 1, true) then
    error("post.lua: more than one \"messageId\" in " .. path .. "; only the first would change")
  end
  local open = body:find('"', body:find(":", s + #'"messageId"', true), true)
  prefix = body:sub(1, open)
  suffix = body:sub(e)
  headers = { ["Content-Type"] = "application/json" }
  if key and key ~= "" then headers["Authorization"] = "Bearer " .. key end
  seed()
  local kind = os.getenv("BENCH_ID_KIND") or "v4"
  if kind == "v7" then
    new_id = uuid7
  elseif kind ~= "v4" then
    error("post.lua: BENCH_ID_KIND must be v4 or v7, not " .. kind)
  end
  -- Check the split once: the template with a new id must still be the same length.
  assert(#(prefix .. new_id() .. suffix) == #body, "post.lua: messageId is not a 36-character UUID")
end

function request()
  return wrk.format("POST", nil, headers, prefix .. new_id() .. suffix)
end

function response(status, hdrs, body)
  if status == expect then
    ok = ok + 1
  else
    other = other + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_other, expected, by = 0, 0, 202, {}
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_other = total_other + t:get("other")
    expected = t:get("expect")
    for s, n in pairs(t:get("statuses")) do by[s] = (by[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(by) do table.insert(parts, s .. "=" .. n) end
  table.sort(parts)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(fmt("statuses: %d x %d, %d other%s; socket errors: connect %d, read %d, write %d, timeout %d\n",
    total_ok, expected, total_other, #parts > 0 and (" (" .. table.concat(parts, ", ") .. ")") or "",
    e.connect, e.read, e.write, e.timeout))
  if total_other > 0 then io.write("WARNING: not every answer was ", expected, "\n") end
  io.write(fmt("RESULT expect=%d ok=%d other=%d requests=%d secs=%.3f ok_rate=%.1f rate=%.1f " ..
      "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f err_connect=%d err_read=%d err_write=%d " ..
      "err_timeout=%d err_status=%d\n",
    expected, total_ok, total_other, summary.requests, secs, total_ok / secs,
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.connect, e.read, e.write, e.timeout,
    e.status))
end
