#!/usr/bin/env bash
# Reads while ingest is saturated: GET /v1/rankings/{model} latency with wrk, first with no
# ingest, then while rankd-ingest-bench posts NDJSON batches as fast as rankd takes them.
#   bash benchmarks/reads-under-ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18192}
MODEL="meta-llama/llama-3.3-70b-instruct"
swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-ingest-bench >/dev/null 2>&1
WORK=$(mktemp -d)
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
ENDPOINTS=""
{
  echo "listen: \"127.0.0.1:$PORT\""
  echo "tokens:"
  echo "  ingest: {env: RANKD_INGEST_TOKEN}"
  echo "endpoints:"
  for i in $(seq 1 8); do
    echo "  - {provider: provider$i, model: $MODEL, base_url: \"https://provider$i.example.com/v1\", upstream_model: m}"
  done
} > "$WORK/rankd.yaml"
for i in $(seq 1 8); do ENDPOINTS="$ENDPOINTS${ENDPOINTS:+,}$MODEL|provider$i"; done
export RANKD_INGEST_TOKEN=bench-ingest-token-0123456789
.build/release/rankd serve --config "$WORK/rankd.yaml" --data-dir "$WORK/data" --no-probe --log-level warning > "$WORK/rankd.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/v1/rankings/$MODEL"
report() { awk -v label="$1" '/^Requests\/sec:/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {printf "%-28s %10.0f req/s  p50 %-8s p99 %s\n", label, rps, p50, p99}'; }
wrk -t1 -c8 -d10s --latency "$URL" | report "reads, no ingest:"
.build/release/rankd-ingest-bench "http://127.0.0.1:$PORT" "$RANKD_INGEST_TOKEN" 16 1 4 "$ENDPOINTS" "$WORK" > "$WORK/ingest.out" &
BENCH=$!
sleep 3
wrk -t1 -c8 -d10s --latency "$URL" | report "reads, ingest saturated:"
wait "$BENCH"
grep "^rankd" "$WORK/ingest.out"
