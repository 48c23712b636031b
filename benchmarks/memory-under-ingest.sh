#!/usr/bin/env bash
# Resident memory of rankd (release build) with 20,000 endpoints (1,000 models x 20 providers)
# under a telemetry flood from a second process, against the same daemon and flood with 20
# endpoints, in the same run. RSS (VmRSS of /proc) is sampled every 0.2 s: after ready, peak
# under load, and after the load. The flood is as fast as rankd takes it (4 clients posting
# 1,000-record batches back to back); the records cover every endpoint in turn.
#
#   bash benchmarks/memory-under-ingest.sh          # 60 s of load per run
#   SECONDS_INGEST=30 bash benchmarks/memory-under-ingest.sh
#   RANKD=/path/to/other/rankd ENDPOINT_COUNTS=20000 SECONDS_INGEST=900 PORT=18193 \
#     bash benchmarks/memory-under-ingest.sh        # another build, the large run only, 15 min
#
# Two builds side by side (docs/BENCHMARKS.md): run them alternately, or at once on two ports.
#
# Goal (issue 7): at most 150 MB with 20,000 endpoints under 100,000 records/s.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_INGEST=${SECONDS_INGEST:-60}
CLIENTS=${CLIENTS:-4}
PORT=${PORT:-18192}
RANKD=${RANKD:-.build/release/rankd}
ENDPOINT_COUNTS=${ENDPOINT_COUNTS:-20 20000}

swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-ingest-bench >/dev/null 2>&1
WORK=$(mktemp -d)
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
export RANKD_INGEST_TOKEN=bench-ingest-token-0123456789

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

run() {  # run ENDPOINTS: prints "idle peak after" in MB and the ingest line
  local count=$1 models=$(( $1 / 20 )) dir="$WORK/run-$1"
  mkdir -p "$dir"
  : > "$dir/endpoints.txt"
  {
    echo "listen: \"127.0.0.1:$PORT\""
    echo "data_dir: $dir/data"
    echo "tokens:"
    echo "  ingest: {env: RANKD_INGEST_TOKEN}"
    echo "endpoints:"
  } > "$dir/rankd.yaml"
  python3 - "$dir" "$models" <<'EOF'
import sys
directory, models = sys.argv[1], int(sys.argv[2])
with open(f"{directory}/rankd.yaml", "a") as config, open(f"{directory}/endpoints.txt", "w") as listing:
    for m in range(models):
        for p in range(20):
            config.write(f"  - {{provider: p{p}, model: bench/model-{m}, base_url: \"http://127.0.0.1:9/v1\", upstream_model: m}}\n")
            listing.write(f"bench/model-{m}|p{p}\n")
EOF
  local started=$(date +%s.%N)
  "$RANKD" serve --config "$dir/rankd.yaml" --no-probe --log-level warning > "$dir/rankd.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.05; done
  local ready=$(echo "$(date +%s.%N) - $started" | bc)
  sleep 2
  local idle=$(rss_mb $PID)
  ( while kill -0 $PID 2>/dev/null; do rss_mb $PID; echo; sleep 0.2; done ) > "$dir/rss" 2>/dev/null &
  local sampler=$!
  local line=$(.build/release/rankd-ingest-bench "http://127.0.0.1:$PORT" "$RANKD_INGEST_TOKEN" "$SECONDS_INGEST" 0 "$CLIENTS" "@$dir/endpoints.txt" "$dir" | grep "^rankd")
  sleep 2
  local after=$(rss_mb $PID)
  # The daemon's own epoch time (rankd_epoch_duration_seconds: compute and publication).
  local epochs=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^rankd_epoch_duration_seconds_sum/ {s=$2} /^rankd_epoch_duration_seconds_count/ {c=$2} END {if (c > 0) printf "%d epochs, mean %.0f ms", c, s / c * 1000; else print "no epochs"}')
  kill $PID; wait $PID 2>/dev/null || true
  PID=""
  wait $sampler 2>/dev/null || true
  awk 'NF && $1+0 > max {max = $1+0} END {print max}' "$dir/rss" > "$dir/peak"
  printf "%6d endpoints: ready in %.2f s; RSS idle %s MB, peak under load %s MB, after %s MB\n" \
    "$count" "$ready" "$idle" "$(cat "$dir/peak")" "$after"
  echo "$line" | sed 's/^/        /'  # the average rate, and each whole minute's
  echo "        epoch time (the daemon's metric): $epochs"
  # The highest sample of each minute of load (5 samples a second): between epochs and at them.
  awk 'NF { m = int((NR - 1) / 300); if ($1 + 0 > max[m]) max[m] = $1 + 0; n = m }
       END { printf "        RSS per minute of load (max, MB):"; for (i = 0; i <= n; i++) printf " %.0f", max[i]; print "" }' "$dir/rss"
  echo "$count $(cat "$dir/peak")" >> "$WORK/peaks"
}

echo "rankd $("$RANKD" --version) ($RANKD), $(nproc) cores, ${SECONDS_INGEST} s of load per run"
for count in $ENDPOINT_COUNTS; do run "$count"; done
if [ "$(wc -l < "$WORK/peaks")" -eq 2 ]; then
  awk 'NR==1 {base=$2} NR==2 {printf "peak RSS, 20,000 endpoints / 20 endpoints: %.2f (%.1f MB more for 19,980 endpoints)\n", $2/base, $2-base}' "$WORK/peaks"
fi
