-- wrk script for scripts/bench-ui.sh: GET one admin UI page, signed in, and check each answer.
--
-- Environment:
--   SK_NAME    scenario name (for the SKBENCH line)
--   SK_PATH    path and query to GET, e.g. /ui/users?page=1000
--   SK_COOKIE  the sign-in cookie value (sk_ui=...)
--   SK_EXPECT  a literal string every answer's body must contain (empty: no check)
--
-- Every answer must be 200 (wrk itself counts a 3xx as success: a redirect to the sign-in
-- page would otherwise pass) and contain SK_EXPECT. done() prints one "SKBENCH key=value"
-- line that the shell script parses.

local name = os.getenv("SK_NAME") or "page"
local path = os.getenv("SK_PATH") or "/ui/"
local cookie = os.getenv("SK_COOKIE") or ""
local expect = os.getenv("SK_EXPECT") or ""

local counters = { "ok", "bad_status", "unexpected", "bytes" }
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for _, k in ipairs(counters) do _G[k] = 0 end
  first_bad = nil
  first_unexpected = nil
  req = wrk.format("GET", path, { ["Cookie"] = "sk_ui=" .. cookie })
end

function request()
  return req
end

function response(status, hdrs, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    if first_bad == nil then
      first_bad = status .. " " .. (hdrs["Location"] or hdrs["location"] or "") .. " " ..
        string.sub(body or "", 1, 300)
    end
    return
  end
  bytes = bytes + #body
  if expect ~= "" and not body:find(expect, 1, true) then
    unexpected = unexpected + 1
    if first_unexpected == nil then first_unexpected = string.sub(body, 1, 2000) end
    return
  end
  ok = ok + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, k in ipairs(counters) do total[k] = 0 end
  local samples = {}
  for _, t in ipairs(threads) do
    for _, k in ipairs(counters) do total[k] = total[k] + (t:get(k) or 0) end
    for _, k in ipairs({ "first_bad", "first_unexpected" }) do
      local v = t:get(k)
      if v ~= nil and samples[k] == nil then samples[k] = v end
    end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "SKBENCH name=%s requests=%d duration_s=%.3f rps=%.1f mean_ms=%.3f p50_ms=%.3f " ..
    "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f http_errors=%d sock_connect=%d sock_read=%d " ..
    "sock_write=%d sock_timeout=%d ok=%d bad_status=%d unexpected=%d body_kb=%.1f\n",
    name, summary.requests, secs, summary.requests / secs, latency.mean / 1000,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status, e.connect, e.read,
    e.write, e.timeout, total.ok, total.bad_status, total.unexpected,
    (total.ok + total.unexpected > 0) and (total.bytes / (total.ok + total.unexpected) / 1024) or 0))
  for k, v in pairs(samples) do
    io.write("SKSAMPLE " .. k .. ": " .. v:gsub("\n", " ") .. "\n")
  end
end
