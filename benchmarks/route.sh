#!/usr/bin/env bash
# Benchmark: POST /v1/route (tools, a distinct request_id per request, so every answer is a fresh
# per-request draw from the traffic shares) against GET /v1/rankings/{model} (the cached read),
# on one rankd (release build), with the same load generator (wrk) and the same connections, in
# the same run, alternating rounds.
#
#   bash benchmarks/route.sh                         # 3 rounds of 20 s each per request kind
#   ROUNDS=5 SECONDS_PER_ROUND=30 CONNECTIONS=64 bash benchmarks/route.sh
#
# The goal (issue 22): the route answer at least half the rankings read's requests/s.
# wrk and rankd share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-20}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ENDPOINTS=${ENDPOINTS:-12}
PORT=${PORT:-18183}
MODEL="meta-llama/llama-3.3-70b-instruct"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
RANKD=${RANKD:-}
if [ -z "$RANKD" ]; then
  swift build -c release --product rankd >/dev/null 2>&1
  RANKD=.build/release/rankd
fi

WORK=$(mktemp -d)
cleanup() {
  [ -n "${RANKD_PID:-}" ] && kill "$RANKD_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# One model served by $ENDPOINTS providers (a popular open model has about a dozen).
{
  echo "listen: \"127.0.0.1:$PORT\""
  echo "data_dir: $WORK/data"
  echo "epoch_interval_seconds: 300"
  echo "endpoints:"
  for i in $(seq 1 "$ENDPOINTS"); do
    cat <<YAML
  - provider: provider$i
    model: $MODEL
    base_url: https://provider$i.example.com/v1
    upstream_model: meta-llama/Llama-3.3-70B-Instruct
    quantization: fp8
    pricing: {prompt_per_million_usd: 0.$((20 + i)), completion_per_million_usd: 0.$((40 + i))}
    context_length: 131072
    supported_parameters: [tools, tool_choice, response_format]
    regions: [us]
YAML
  done
} > "$WORK/rankd.yaml"

"$RANKD" serve --config "$WORK/rankd.yaml" --no-probe --log-level warning > "$WORK/rankd.log" 2>&1 &
RANKD_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

# Each wrk thread numbers its own requests: every route request has its own request_id.
cat > "$WORK/route.lua" <<LUA
local counter = 0
local threads = {}
function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  -- thread_id is set per thread by setup (a global of the thread's own Lua state).
  local body = '{"model": "$MODEL", "parameters": ["tools"], "request_id": "bench-' .. thread_id .. '-' .. counter .. '"}'
  return wrk.format("POST", "/v1/route", {["Content-Type"] = "application/json"}, body)
end
LUA
ROUTE_ONE=$(curl -sf -X POST "http://127.0.0.1:$PORT/v1/route" -H 'Content-Type: application/json' \
  -d "{\"model\": \"$MODEL\", \"parameters\": [\"tools\"], \"request_id\": \"probe-1\"}")
echo "$ROUTE_ONE" | grep -q '"seed_source":"request_id"' || { echo "route answer without a request_id seed: $ROUTE_ONE"; exit 1; }

echo "rankd $("$RANKD" --version) (release), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS, $ENDPOINTS endpoints"
echo "route answer: $(echo "$ROUTE_ONE" | wc -c) bytes; rankings read: $(curl -sf "http://127.0.0.1:$PORT/v1/rankings/$MODEL" | wc -c) bytes"
echo "$ROUNDS rounds of $SECONDS_PER_ROUND s per request kind, alternating"

# Runs wrk once; prints "requests_per_second p99_ms".
measure() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${1}s" --latency "${@:2}")
  local rps p99
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/, "", v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v=v*1000}; print v}')
  if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx answers: $out" >&2; exit 1; fi
  echo "$rps $p99"
}

READ_URL="http://127.0.0.1:$PORT/v1/rankings/$MODEL"
ROUTE_URL="http://127.0.0.1:$PORT/v1/route"
measure 3 "$READ_URL" >/dev/null   # warm-up
measure 3 -s "$WORK/route.lua" "$ROUTE_URL" >/dev/null

printf "%-6s %-9s %14s %10s\n" round request "requests/s" "p99 ms"
: > "$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  read -r rps p99 < <(measure "$SECONDS_PER_ROUND" "$READ_URL")
  printf "%-6s %-9s %14.0f %10.2f\n" "$round" rankings "$rps" "$p99"; echo "rankings $rps $p99" >> "$WORK/results"
  read -r rps p99 < <(measure "$SECONDS_PER_ROUND" -s "$WORK/route.lua" "$ROUTE_URL")
  printf "%-6s %-9s %14.0f %10.2f\n" "$round" route "$rps" "$p99"; echo "route $rps $p99" >> "$WORK/results"
done

awk '
  { rps[$1] = rps[$1] " " $2; p99[$1] = p99[$1] " " $3 }
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    r = median(rps["route"]); g = median(rps["rankings"])
    printf "median rankings read: %.0f requests/s, p99 %.2f ms\n", g, median(p99["rankings"])
    printf "median route answer:  %.0f requests/s, p99 %.2f ms\n", r, median(p99["route"])
    printf "ratio route/rankings: %.2f (goal >= 0.50)\n", r / g
  }' "$WORK/results"
