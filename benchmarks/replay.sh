#!/usr/bin/env bash
# `rankd replay` of HOURS hours at INTERVAL (release build) on the start-up benchmark's data
# (ENDPOINTS endpoints, HOURS + 24 h of minute buckets so the first replayed epoch has its whole
# long window, one day of epoch history), and in the same run the daemon's start-up on the same
# directory (time to ready): the replay walks the windows through a day of minutes that start-up
# reads once.
#
#   bash benchmarks/replay.sh                    # 2,000 endpoints, 24 h at 300 s
#   ENDPOINTS=200 HOURS=2 bash benchmarks/replay.sh
#   WORK=/tmp/replay-bench KEEP=1 bash benchmarks/replay.sh   # keep the data (10 min to write) for the next run
#
# Goal (issue 25): about a minute for 24 h at 2,000 endpoints on 2 cores, not hours.
set -euo pipefail
cd "$(dirname "$0")/.."
ENDPOINTS=${ENDPOINTS:-2000}
HOURS=${HOURS:-24}
INTERVAL=${INTERVAL:-300s}
RUNS=${RUNS:-3}
swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-startup-bench >/dev/null 2>&1
WORK=${WORK:-$(mktemp -d)}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

echo "rankd $(.build/release/rankd --version) (release), $(nproc) cores"
if [ ! -f "$WORK/full/data/state.db" ]; then
  .build/release/rankd-startup-bench "$WORK/full" "$ENDPOINTS" $((HOURS + 24)) 1
fi
# The last HOURS of history (the data's own clock: a kept directory is older than now).
FROM=$(python3 -c "import sqlite3,sys,datetime; t=sqlite3.connect(sys.argv[1]).execute('SELECT MAX(computed_at) FROM epochs').fetchone()[0]; print(datetime.datetime.fromtimestamp(t-int(sys.argv[2])*3600, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))" "$WORK/full/data/state.db" "$HOURS")
sync
/usr/bin/time -f "%e %M" -o "$WORK/replay.time" .build/release/rankd replay --data-dir "$WORK/full/data" --from "$FROM" \
  --interval "$INTERVAL" --differences 0 >"$WORK/replay.txt"
read -r SECONDS_TAKEN PEAK_KB <"$WORK/replay.time"
EPOCHS=$(sed -n 's/.*, \([0-9]*\) epoch(s) replayed.*/\1/p' "$WORK/replay.txt")
echo "replay: $EPOCHS epochs over $HOURS h at $INTERVAL in ${SECONDS_TAKEN} s, peak RSS $((PEAK_KB / 1024)) MB"
# Start-up writes to its directory (an epoch, the policy): it runs on a copy, so the replayed one stays as written.
rm -rf "$WORK/startup" && cp -r "$WORK/full" "$WORK/startup"
FULL=$(python3 benchmarks/time-to-ready.py .build/release/rankd "$WORK/startup/rankd.yaml" "$WORK/startup/data" "$RUNS")
rm -rf "$WORK/startup"
echo "start-up on the same directory: $FULL"
python3 -c "import json,sys; f=json.loads(sys.argv[1]); r=float(sys.argv[2]); n=int(sys.argv[3]); print(f'replay / start-up: {r:.1f} s / {f[\"median\"]:.3f} s = {r/f[\"median\"]:.0f}x; {1000*r/max(n,1):.0f} ms per replayed epoch')" "$FULL" "$SECONDS_TAKEN" "$EPOCHS"
