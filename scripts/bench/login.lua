-- wrk script for scripts/bench-login.sh: one file for every scenario, so that the load
-- generator does the same work (a request() and a response() call per request) in each.
--
-- Environment:
--   SK_MODE       bare | dedicated | floating
--   SK_TOKEN      integration token (dedicated, floating)
--   SK_DED_USERS  number of users ded1..dedN holding a named all-modules seat
--   SK_FLO_USERS  number of users flo1..floN holding nothing
--
-- bare       GET /healthz (no auth, no database): the framework's bare endpoint.
-- dedicated  POST /integration/v1/login cycling over ded1..dedN; every answer must be
--            "allowed" with the user's own (dedicated) seat and nothing auto-allocated.
-- floating   per thread, alternates POST /integration/v1/login of a flo user (which takes a
--            floating seat) and POST /integration/v1/logout of a session id that thread got
--            back (which frees the seat). Session ids go through a per-thread FIFO queue:
--            when a thread is asked for a request and holds a session id, it releases it,
--            otherwise it acquires. Logins and logouts each count as one request.
--
-- done() prints one "SKBENCH key=value ..." line that the shell script parses.

local mode = os.getenv("SK_MODE") or "bare"
local token = os.getenv("SK_TOKEN") or ""
local ded_n = tonumber(os.getenv("SK_DED_USERS") or "500")
local flo_n = tonumber(os.getenv("SK_FLO_USERS") or "500")

if mode ~= "bare" and mode ~= "dedicated" and mode ~= "floating" then
  error("SK_MODE must be bare, dedicated or floating, not " .. mode)
end

-- Counters kept per thread (globals of each thread's Lua state, read by done()).
local counters = { "ok", "bad_status", "allowed", "refused", "ended", "unexpected",
                   "logins_sent", "logouts_sent" }

-- Main state: the threads, for done().
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  for _, k in ipairs(counters) do _G[k] = 0 end
  first_bad = nil
  first_refusal = nil
  first_unexpected = nil
  counter = 0
  queue, qhead, qtail = {}, 1, 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  bare_request = wrk.format("GET", "/healthz")
  -- Threads start at different users so that they do not log in the same one together.
  offset = (thread_id or 0) * 7919
end

local function login(prefix, n)
  counter = counter + 1
  local user = (offset + counter) % n + 1
  logins_sent = logins_sent + 1
  return wrk.format("POST", "/integration/v1/login", headers,
                    '{"login":"' .. prefix .. user .. '","client":"wrk"}')
end

function request()
  if mode == "bare" then
    return bare_request
  elseif mode == "dedicated" then
    return login("ded", ded_n)
  end
  if qtail >= qhead then
    local sid = queue[qhead]
    queue[qhead] = nil
    qhead = qhead + 1
    logouts_sent = logouts_sent + 1
    return wrk.format("POST", "/integration/v1/logout", headers,
                      '{"session_id":"' .. sid .. '"}')
  end
  return login("flo", flo_n)
end

local function odd(body)
  unexpected = unexpected + 1
  if first_unexpected == nil then first_unexpected = body end
end

function response(status, hdrs, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    if first_bad == nil then first_bad = status .. " " .. (body or "") end
    return
  end
  if mode == "bare" then
    if body:match("^ok") then ok = ok + 1 else odd(body) end
    return
  end
  local outcome = body:match('"outcome":"(%a+)"')
  if outcome == "allowed" then
    allowed = allowed + 1
    if mode == "dedicated" then
      -- The user's own seat, nothing taken from the floating pool.
      if not body:find('"seat":"dedicated"', 1, true)
         or not body:find('"auto_allocated":null', 1, true) then
        odd(body)
      end
    else
      local sid = body:match('"session_id":"([%w%-]+)"')
      if sid == nil or not body:find('"seat":"floating"', 1, true) then
        odd(body)
      else
        qtail = qtail + 1
        queue[qtail] = sid
      end
    end
  elseif outcome == "refused" then
    refused = refused + 1
    if first_refusal == nil then first_refusal = body end
  elseif mode == "floating" and body:find('"ended":true', 1, true) then
    ended = ended + 1
  else
    odd(body)
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, k in ipairs(counters) do total[k] = 0 end
  local samples = {}
  for _, t in ipairs(threads) do
    for _, k in ipairs(counters) do total[k] = total[k] + (t:get(k) or 0) end
    for _, k in ipairs({ "first_bad", "first_refusal", "first_unexpected" }) do
      local v = t:get(k)
      if v ~= nil and samples[k] == nil then samples[k] = v end
    end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "SKBENCH mode=%s requests=%d duration_s=%.3f rps=%.1f mean_ms=%.3f p50_ms=%.3f " ..
    "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f http_errors=%d sock_connect=%d sock_read=%d " ..
    "sock_write=%d sock_timeout=%d ok=%d bad_status=%d allowed=%d refused=%d ended=%d " ..
    "unexpected=%d logins_sent=%d logouts_sent=%d\n",
    mode, summary.requests, secs, summary.requests / secs, latency.mean / 1000,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status, e.connect, e.read,
    e.write, e.timeout, total.ok, total.bad_status, total.allowed, total.refused,
    total.ended, total.unexpected, total.logins_sent, total.logouts_sent))
  for k, v in pairs(samples) do
    io.write("SKSAMPLE " .. k .. ": " .. string.sub(v, 1, 400) .. "\n")
  end
end
