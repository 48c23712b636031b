#!/usr/bin/env bash
# Epoch compute at scale: rankd's window aggregates against a naive SQL scan of raw per-request
# rows, same run, same epoch; growth over 100 ... 20,000 endpoints; chart in docs/epoch-growth.svg.
# The naive baseline runs at 100 and 1,000 endpoints only: at 20,000 it would need 720 million
# rows (about 40 GB). Takes about 5 minutes on 2 cores. Options go to rankd-epoch-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product rankd-epoch-bench
mkdir -p .build/bench
.build/release/rankd-epoch-bench --dir .build/bench --csv .build/bench/epoch-compute.csv "$@"
python3 benchmarks/growth-chart.py .build/bench/epoch-compute.csv docs/epoch-growth.svg
echo "chart: docs/epoch-growth.svg"
