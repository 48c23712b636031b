#!/usr/bin/env bash
# Benchmark: sustained telemetry ingest into rankd (release build) from a second process on
# loopback, against raw SQLite inserts of the same rows measured in the same run.
#
#   bash benchmarks/ingest-vs-sqlite.sh                 # 60 s of ingest, 30 s of baseline
#   SECONDS_INGEST=60 BASELINE_SECONDS=30 CLIENTS=4 bash benchmarks/ingest-vs-sqlite.sh
#   RANKD=/path/to/other/rankd bash benchmarks/ingest-vs-sqlite.sh   # another build of rankd
#
# Goal (issue 5): at least 100,000 records/s and at least half the baseline's rate, on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_INGEST=${SECONDS_INGEST:-60}
BASELINE_SECONDS=${BASELINE_SECONDS:-30}
CLIENTS=${CLIENTS:-4}
PORT=${PORT:-18191}
MODEL="meta-llama/llama-3.3-70b-instruct"
RANKD=${RANKD:-.build/release/rankd}

swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-ingest-bench >/dev/null 2>&1
WORK=$(mktemp -d)
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

ENDPOINTS=""
{
  echo "listen: \"127.0.0.1:$PORT\""
  echo "data_dir: $WORK/data"
  echo "tokens:"
  echo "  ingest: {env: RANKD_INGEST_TOKEN}"
  echo "ingest:"
  echo "  queue_records: 200000"
  echo "endpoints:"
  for i in $(seq 1 8); do
    echo "  - {provider: provider$i, model: $MODEL, base_url: \"https://provider$i.example.com/v1\", upstream_model: m}"
  done
} > "$WORK/rankd.yaml"
for i in $(seq 1 8); do ENDPOINTS="$ENDPOINTS${ENDPOINTS:+,}$MODEL|provider$i"; done

export RANKD_INGEST_TOKEN=bench-ingest-token-0123456789
"$RANKD" serve --config "$WORK/rankd.yaml" --no-probe --log-level warning > "$WORK/rankd.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

echo "rankd $("$RANKD" --version) ($RANKD), $(nproc) cores; state.db and the baseline file in $WORK"
.build/release/rankd-ingest-bench "http://127.0.0.1:$PORT" "$RANKD_INGEST_TOKEN" "$SECONDS_INGEST" "$BASELINE_SECONDS" "$CLIENTS" "$ENDPOINTS" "$WORK"
echo "stored live requests: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source='live') + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)\").fetchone()[0])" "$WORK/data/state.db")"
