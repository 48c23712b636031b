#!/usr/bin/env bash
# Overload: telemetry offered by 10x the clients that saturate ingest (40 instead of 4, each
# posting 1,000-record batches back to back and retrying at once on 429, ignoring Retry-After),
# with a 20,000-record queue (QUEUE=N to change it). Reports what rankd accepted and refused, its resident memory over
# the run (sampled every 0.5 s), and GET /v1/rankings/{model} latency (wrk, 4 connections)
# without ingest and during the overload, in the same run.
#
#   bash benchmarks/overload.sh            # 30 s of overload
#   RANKD=/path/to/other/rankd bash benchmarks/overload.sh   # another build
#
# Goal (issue 7): 429 with Retry-After, memory flat, reads p99 <= 5 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18193}
SECONDS_OVERLOAD=${SECONDS_OVERLOAD:-30}
CLIENTS=${CLIENTS:-40}
RANKD=${RANKD:-.build/release/rankd}
MODEL="meta-llama/llama-3.3-70b-instruct"
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }
swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-ingest-bench >/dev/null 2>&1
WORK=$(mktemp -d)
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
ENDPOINTS=""
{
  echo "listen: \"127.0.0.1:$PORT\""
  echo "tokens:"
  echo "  ingest: {env: RANKD_INGEST_TOKEN}"
  echo "ingest:"
  echo "  queue_records: ${QUEUE:-20000}"
  echo "endpoints:"
  for i in $(seq 1 8); do
    echo "  - {provider: provider$i, model: $MODEL, base_url: \"https://provider$i.example.com/v1\", upstream_model: m}"
  done
} > "$WORK/rankd.yaml"
for i in $(seq 1 8); do ENDPOINTS="$ENDPOINTS${ENDPOINTS:+,}$MODEL|provider$i"; done
export RANKD_INGEST_TOKEN=bench-ingest-token-0123456789
"$RANKD" serve --config "$WORK/rankd.yaml" --data-dir "$WORK/data" --no-probe --log-level warning > "$WORK/rankd.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/v1/rankings/$MODEL"
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }
report() { awk -v label="$1" '/^Requests\/sec:/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {printf "%-34s %8.0f req/s  p50 %-8s p99 %s\n", label, rps, p50, p99}'; }

echo "rankd $(.build/release/rankd --version) (release), $(nproc) cores; $CLIENTS ingest clients for ${SECONDS_OVERLOAD} s"
echo "RSS before: $(rss) MB"
wrk -t1 -c4 -d10s --latency "$URL" | report "reads, no ingest:"
( while kill -0 $PID 2>/dev/null; do echo "$(date +%s.%N) $(rss)"; sleep 0.5; done ) > "$WORK/rss" &
SAMPLER=$!
.build/release/rankd-ingest-bench "http://127.0.0.1:$PORT" "$RANKD_INGEST_TOKEN" "$SECONDS_OVERLOAD" 0 "$CLIENTS" "$ENDPOINTS" "$WORK" > "$WORK/ingest.out" &
BENCH=$!
sleep 5
wrk -t1 -c4 -d10s --latency "$URL" | report "reads, during the overload:"
RETRY=$(curl -s -o /dev/null -D - -X POST -H "Authorization: Bearer $RANKD_INGEST_TOKEN" -H "Content-Type: application/x-ndjson" \
  --data-binary @<(python3 -c "import json,time; [print(json.dumps({'request_id': f'probe-{i}', 'timestamp': time.time(), 'model': '$MODEL', 'provider': 'provider1', 'status': 200})) for i in range(1000)]") \
  "http://127.0.0.1:$PORT/v1/telemetry" | tr -d '\r' | awk 'NR==1 {status=$2} tolower($1)=="retry-after:" {retry=$2} END {print status, retry}')
wait "$BENCH"
kill $SAMPLER 2>/dev/null || true
grep "^rankd" "$WORK/ingest.out"
echo "one more batch during the overload: HTTP status and Retry-After: $RETRY"
awk 'NR==1 {first=$2} {if ($2>max) max=$2; last=$2; n++} NR==int(n/2) {} END {printf "RSS during the overload: first %s MB, peak %s MB, last %s MB (%d samples)\n", first, max, last, n}' "$WORK/rss"
# The highest sample of each 5 s (10 samples): flat, or growing through the run?
awk '{ b = int((NR - 1) / 10); if ($2 + 0 > max[b]) max[b] = $2 + 0; n = b }
     END { printf "RSS per 5 s of the overload (max, MB):"; for (i = 0; i <= n; i++) printf " %.0f", max[i]; print "" }' "$WORK/rss"
sleep 2
echo "RSS after: $(rss) MB"
echo "stored live requests: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source='live') + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)\").fetchone()[0])" "$WORK/data/state.db")"
