#!/usr/bin/env bash
# Resident memory of rankd (release build) once its windows hold real traffic: a data directory
# written by rankd-startup-bench (ENDPOINTS endpoints, every one with ~600 live requests a minute
# and a probe every 15 minutes for the last HOURS hours), against the same registry with an empty
# data directory, in the same run. The daemon is started on each, RSS (VmRSS) sampled every 0.2 s
# for SECONDS_RUN s: the peak (start-up: the windows' rebuild and the first epoch) and the end.
#
#   bash benchmarks/memory-busy-windows.sh                 # 20,000 endpoints, 1 h of traffic
#   ENDPOINTS=2000 HOURS=2 bash benchmarks/memory-busy-windows.sh
#   BASELINE=/tmp/old/rankd bash benchmarks/memory-busy-windows.sh   # and another build, same data
#
# With BASELINE, that binary runs on copies of the same two data directories in the same run, and
# the windows' memory (busy minus empty) and rebuild time are given as new / baseline ratios.
#
# The traffic ends when the writer starts, so the longer it writes (about 6 min at 20,000
# endpoints) the less of it is still in the 15 min short window: what is measured is mostly the
# long window (hour spans and the running totals). Needs about 1 GB of disk per 20,000 endpoints
# and hour.
set -euo pipefail
cd "$(dirname "$0")/.."
ENDPOINTS=${ENDPOINTS:-20000}
HOURS=${HOURS:-1}
SECONDS_RUN=${SECONDS_RUN:-30}
PORT=${PORT:-18194}
swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-startup-bench >/dev/null 2>&1
WORK=${WORK:-$(mktemp -d)}
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

run() {  # run NAME DATA_DIR [BINARY]
  "${3:-.build/release/rankd}" serve --config "$WORK/full/rankd.yaml" --listen "127.0.0.1:$PORT" --data-dir "$2" --no-probe \
    --log-level info > "$WORK/$1.log" 2>&1 &
  PID=$!
  local peak=0 samples=$(( SECONDS_RUN * 5 ))
  for _ in $(seq 1 $samples); do
    kill -0 $PID 2>/dev/null || { echo "rankd exited:"; tail -3 "$WORK/$1.log"; exit 1; }
    peak=$(awk -v a="$peak" -v b="$(rss_mb $PID)" 'BEGIN {print (b > a ? b : a)}')
    sleep 0.2
  done
  local end=$(rss_mb $PID)
  kill $PID; wait $PID 2>/dev/null || true
  PID=""
  local rebuilt=$(grep -o 'buckets=[0-9]* read_and_load_ms=[0-9.]*' "$WORK/$1.log" | head -1)
  printf "%-32s RSS peak %s MB, after %d s %s MB  %s\n" "$1:" "$peak" "$SECONDS_RUN" "$end" "${rebuilt:-(no windows rebuilt)}"
  echo "$end ${rebuilt##*=}" >> "$WORK/ends"
}

echo "rankd $(.build/release/rankd --version) (release), $(nproc) cores"
.build/release/rankd-startup-bench "$WORK/full" "$ENDPOINTS" "$HOURS" 0
mkdir -p "$WORK/empty"
if [ -n "${BASELINE:-}" ]; then
  echo "baseline: $BASELINE ($("$BASELINE" --version))"
  mkdir -p "$WORK/empty-baseline" && cp -a "$WORK/full/data" "$WORK/data-baseline"
fi
run "empty data directory" "$WORK/empty"
run "$HOURS h of traffic" "$WORK/full/data"
awk 'NR==1 {base=$1} NR==2 {printf "RSS after the run, busy / empty: %.2f (%.1f MB for the windows)\n", $1/base, $1-base}' "$WORK/ends"
if [ -n "${BASELINE:-}" ]; then
  run "baseline, empty data directory" "$WORK/empty-baseline" "$BASELINE"
  run "baseline, $HOURS h of traffic" "$WORK/data-baseline" "$BASELINE"
  awk 'NR==1 {e=$1} NR==2 {b=$1; r=$2} NR==3 {be=$1} NR==4 {bb=$1; br=$2}
    END {printf "windows memory, this build / baseline: %.1f MB / %.1f MB = %.2f; rebuild %.0f ms / %.0f ms = %.2f\n",
      b-e, bb-be, (b-e)/(bb-be), r, br, (br > 0 ? r/br : 0)}' "$WORK/ends"
fi
