-- wrk script for every scenario (cf. ../shared/bench-anchors/lib/report.lua, which adds only done()).
-- `wrk ... -s report.lua -- [cookie ...]`: with cookies, request i carries cookie i mod n, so that returning
-- clients spread over the backends as real clients do (each stuck to its own); without, a plain GET /.
-- Requests are formatted once in init(); request() only picks one, so the load generator costs the same in
-- every scenario. done() prints one machine-readable line.

local requests = {}
local n = 0
local i = 0

init = function(args)
  if #args == 0 then
    requests[1] = wrk.format("GET", "/")
  else
    for k, cookie in ipairs(args) do
      requests[k] = wrk.format("GET", "/", { Cookie = cookie })
    end
  end
  n = #requests
end

request = function()
  i = i % n + 1
  return requests[i]
end

done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, s, summary.requests / s,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
