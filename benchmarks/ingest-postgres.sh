#!/usr/bin/env bash
# Benchmark: telemetry ingest into rankd replicas on PostgreSQL (storage.postgres), through one
# replica and through three, against PostgreSQL's own bulk insert of the same rows (multi-row
# INSERT, 1,000 rows per transaction, same durability) measured in the same run, on the same
# throwaway PostgreSQL cluster (scripts/postgres-test-cluster.sh).
#
#   bash benchmarks/ingest-postgres.sh                       # 30 s each
#   SECONDS_INGEST=60 CLIENTS=4 bash benchmarks/ingest-postgres.sh
#
# Goal (issue 26): at least 30,000 records/s and at least half the baseline's rate, on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_INGEST=${SECONDS_INGEST:-30}
CLIENTS=${CLIENTS:-4}
MODEL="meta-llama/llama-3.3-70b-instruct"
RANKD=${RANKD:-.build/release/rankd}

swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-ingest-bench >/dev/null 2>&1
swift build -c release --product rankd-postgres-baseline >/dev/null 2>&1
WORK=$(mktemp -d)
eval "$(bash scripts/postgres-test-cluster.sh start)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash scripts/postgres-test-cluster.sh stop "$RANKD_TEST_POSTGRES_DATA"
  rm -rf "$WORK"
}
trap cleanup EXIT
PGPORT=$(echo "$RANKD_TEST_POSTGRES_URL" | sed 's/.*:\([0-9]*\)\/.*/\1/')
PSQL="$RANKD_TEST_POSTGRES_BIN/psql -h 127.0.0.1 -p $PGPORT -U rankd -At"

ENDPOINTS=""
for i in $(seq 1 8); do ENDPOINTS="$ENDPOINTS${ENDPOINTS:+,}$MODEL|provider$i"; done
export RANKD_INGEST_TOKEN=bench-ingest-token-0123456789

# Starts N replicas on database DB; sets URLS to their base URLs, comma-separated (not run in a
# subshell: PIDS must reach stop_replicas).
start_replicas() {
  local n=$1 db=$2 urls=""
  $PSQL -d rankd -c "CREATE DATABASE $db" >/dev/null
  for r in $(seq 1 "$n"); do
    local port=$((18300 + r)) dir="$WORK/$db-$r"
    mkdir -p "$dir"
    {
      echo "listen: \"127.0.0.1:$port\""
      echo "data_dir: $dir/data"
      echo "tokens:"
      echo "  ingest: {env: RANKD_INGEST_TOKEN}"
      echo "ingest:"
      echo "  queue_records: 200000"
      echo "storage:"
      echo "  postgres: {url_env: RANKD_POSTGRES_URL, pool_size: 4, replica_name: $db-$r}"
      echo "endpoints:"
      for i in $(seq 1 8); do
        echo "  - {provider: provider$i, model: $MODEL, base_url: \"https://provider$i.example.com/v1\", upstream_model: m}"
      done
    } > "$dir/rankd.yaml"
    RANKD_POSTGRES_URL="postgres://rankd@127.0.0.1:$PGPORT/$db?sslmode=disable" \
      "$RANKD" serve --config "$dir/rankd.yaml" --no-probe --log-level warning > "$dir/rankd.log" 2>&1 &
    PIDS+=($!)
    urls="$urls${urls:+,}http://127.0.0.1:$port"
  done
  for r in $(seq 1 "$n"); do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((18300 + r))/readyz" >/dev/null && break; sleep 0.1; done
  done
  URLS=$urls
}

stop_replicas() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# Live requests each replica counted in its own state.db, and the records in the shared log.
report_counts() {
  local db=$1 n=$2
  echo "  shared log: $($PSQL -d "$db" -c "SELECT COALESCE(SUM(records), 0) FROM rankd_log WHERE kind = 1") records; ingest keys: $($PSQL -d "$db" -c "SELECT count(*) FROM rankd_ingest_keys")"
  for r in $(seq 1 "$n"); do
    echo "  replica $r counted: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source='live') + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)\").fetchone()[0])" "$WORK/$db-$r/data/state.db")"
  done
}

echo "rankd $("$RANKD" --version) ($RANKD), $(nproc) cores, PostgreSQL $($PSQL -d rankd -c 'SHOW server_version'), $CLIENTS clients, $SECONDS_INGEST s each"
echo "one replica:"
start_replicas 1 one
.build/release/rankd-ingest-bench "$URLS" "$RANKD_INGEST_TOKEN" "$SECONDS_INGEST" 0 "$CLIENTS" "$ENDPOINTS" "$WORK" | sed 's/^/  /'
sleep 3
stop_replicas
report_counts one 1

echo "three replicas (clients spread over them):"
start_replicas 3 three
.build/release/rankd-ingest-bench "$URLS" "$RANKD_INGEST_TOKEN" "$SECONDS_INGEST" 0 "$CLIENTS" "$ENDPOINTS" "$WORK" | sed 's/^/  /'
sleep 5
stop_replicas
report_counts three 3

$PSQL -d rankd -c "CREATE DATABASE base" >/dev/null
.build/release/rankd-postgres-baseline 127.0.0.1 "$PGPORT" rankd base "$SECONDS_INGEST" "$CLIENTS"
