-- wrk script for bench/server_load.sh: every request POSTs one small chat completion with two
-- context blocks (the same two, so after the first request both come from the block cache) and
-- max_tokens 8. MODEL_ID (env) names the served model.
local model = os.getenv("MODEL_ID") or "blockattn-10m"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"model":"]] .. model .. [[",
 "blocks":[
  {"text":"The Walnut archive sits at the top of the north tower of the old library. The access code of the Walnut archive is 48213."},
  {"text":"The river Lune floods the lower meadow every March. The ferry stops running when the water reaches the third post."}],
 "messages":[{"role":"user","content":"What is the access code of the Walnut archive?"}],
 "max_tokens":8,"temperature":0}]]

-- Latency percentiles and error counts in one line the shell script reads.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.2f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f " ..
    "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, e.status, e.connect, e.read, e.write, e.timeout))
end
