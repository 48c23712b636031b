#!/usr/bin/env bash
# Start-up time to ready (release build): a data directory as rankd leaves it after a long run
# (ENDPOINTS endpoints, BUCKET_HOURS hours of minute buckets, DAYS days of epoch history at one
# epoch per 5 minutes), against the same registry with an empty data directory, in the same run.
#
#   bash benchmarks/startup.sh                  # 2,000 endpoints, 48 h, 30 days
#   ENDPOINTS=200 DAYS=1 bash benchmarks/startup.sh
#
# Goal (issue 7): ready within 1 s with 2,000 endpoints, 48 h of buckets, 30 days of history.
set -euo pipefail
cd "$(dirname "$0")/.."
ENDPOINTS=${ENDPOINTS:-2000}
BUCKET_HOURS=${BUCKET_HOURS:-48}
DAYS=${DAYS:-30}
RUNS=${RUNS:-3}
swift build -c release --product rankd >/dev/null 2>&1
swift build -c release --product rankd-startup-bench >/dev/null 2>&1
WORK=${WORK:-$(mktemp -d)}
trap 'rm -rf "$WORK"' EXIT

echo "rankd $(.build/release/rankd --version) (release), $(nproc) cores"
.build/release/rankd-startup-bench "$WORK/full" "$ENDPOINTS" "$BUCKET_HOURS" "$DAYS"
mkdir -p "$WORK/empty/data" && cp "$WORK/full/rankd.yaml" "$WORK/empty/rankd.yaml"
sync
EMPTY=$(python3 benchmarks/time-to-ready.py .build/release/rankd "$WORK/empty/rankd.yaml" "$WORK/empty/data" "$RUNS")
FULL=$(python3 benchmarks/time-to-ready.py .build/release/rankd "$WORK/full/rankd.yaml" "$WORK/full/data" "$RUNS")
echo "empty data directory: $EMPTY"
echo "full data directory:  $FULL"
python3 -c "import json,sys; e,f=json.loads(sys.argv[1]),json.loads(sys.argv[2]); print(f'time to ready, full / empty: {f[\"median\"]:.3f} s / {e[\"median\"]:.3f} s = {f[\"median\"]/e[\"median\"]:.1f}x')" "$EMPTY" "$FULL"
