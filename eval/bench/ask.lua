-- wrk's script for POST /api/ask (eval/bench/load.py): sends the bodies of the file named by
-- DGM_BENCH_BODIES in turn, one JSON object a line, and prints its summary as one JSON line.
local bodies = {}
for line in io.lines(os.getenv("DGM_BENCH_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, "/api/ask", nil, bodies[(i - 1) % #bodies + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "errors": %d, "p50": %d, "p95": %d, '
    .. '"p99": %d, "mean": %f, "max": %d}\n', summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max))
end
