#!/usr/bin/env bash
# Benchmark: POST /v1/route (tools, a distinct request_id per request, so every answer is a fresh
# per-request draw from the traffic shares) against GET /v1/rankings/{model} (the cached read),
# on one rankd (release build), with the same load generator (wrk) and the same connections, in
# the same run, alternating rounds.
#
#   bash benchmarks/route.sh                         # 3 rounds of 20 s each per request kind
#   ROUNDS=5 SECONDS_PER_ROUND=30 CONNECTIONS=64 bash benchmarks/route.sh
#   CUTOFFS=1 bash benchmarks/route.sh               # also route requests with percentile cut-offs
#
# With CUTOFFS=1 a third kind runs in the same rounds: the route request with
# preferred_max_latency {p50, p90} and preferred_min_throughput {p75}, which reads the rolling
# window's figures from the daemon's windows per request; its ratio to the plain route is given.
#
# The goal (issue 22): the route answer at least half the rankings read's requests/s.
# wrk and rankd share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/wrk-lib.sh

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

write_one_model_registry "$WORK/rankd.yaml" "$PORT" "$ENDPOINTS" "$WORK/data" "$MODEL"

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
sed 's/"parameters": \["tools"\], /"parameters": ["tools"], "provider": {"preferred_max_latency": {"p50": 2, "p90": 5}, "preferred_min_throughput": {"p75": 10}}, /' \
  "$WORK/route.lua" > "$WORK/cutoffs.lua"
grep -q preferred_max_latency "$WORK/cutoffs.lua" || { echo "cut-off script not made"; exit 1; }
ROUTE_ONE=$(curl -sf -X POST "http://127.0.0.1:$PORT/v1/route" -H 'Content-Type: application/json' \
  -d "{\"model\": \"$MODEL\", \"parameters\": [\"tools\"], \"request_id\": \"probe-1\"}")
echo "$ROUTE_ONE" | grep -q '"seed_source":"request_id"' || { echo "route answer without a request_id seed: $ROUTE_ONE"; exit 1; }

echo "rankd $("$RANKD" --version) (release), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS, $ENDPOINTS endpoints"
echo "route answer: $(echo "$ROUTE_ONE" | wc -c) bytes; rankings read: $(curl -sf "http://127.0.0.1:$PORT/v1/rankings/$MODEL" | wc -c) bytes"
echo "$ROUNDS rounds of $SECONDS_PER_ROUND s per request kind, alternating"

READ_URL="http://127.0.0.1:$PORT/v1/rankings/$MODEL"
ROUTE_URL="http://127.0.0.1:$PORT/v1/route"
wrk_measure 3 "$READ_URL" >/dev/null   # warm-up
wrk_measure 3 -s "$WORK/route.lua" "$ROUTE_URL" >/dev/null

printf "%-6s %-9s %14s %10s\n" round request "requests/s" "p99 ms"
: > "$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  read -r rps p99 < <(wrk_measure "$SECONDS_PER_ROUND" "$READ_URL")
  printf "%-6s %-9s %14.0f %10.2f\n" "$round" rankings "$rps" "$p99"; echo "rankings $rps $p99" >> "$WORK/results"
  read -r rps p99 < <(wrk_measure "$SECONDS_PER_ROUND" -s "$WORK/route.lua" "$ROUTE_URL")
  printf "%-6s %-9s %14.0f %10.2f\n" "$round" route "$rps" "$p99"; echo "route $rps $p99" >> "$WORK/results"
  if [ "${CUTOFFS:-0}" = 1 ]; then
    read -r rps p99 < <(wrk_measure "$SECONDS_PER_ROUND" -s "$WORK/cutoffs.lua" "$ROUTE_URL")
    printf "%-6s %-9s %14.0f %10.2f\n" "$round" cutoffs "$rps" "$p99"; echo "cutoffs $rps $p99" >> "$WORK/results"
  fi
done

median_ratio "$WORK/results" route rankings 0.50
if [ "${CUTOFFS:-0}" = 1 ]; then median_ratio "$WORK/results" cutoffs route "(none: reported)"; fi
