#!/usr/bin/env bash
# Percentile cut-offs as a gateway meets them: scripts/gateway-loop.py (8 workers, tools) on
# rankd and a mock fleet, twice in the same run: without a provider object, then with
# {"preferred_max_latency": {"p90": 0.65}}. "jittery" has the better TTFT median (0.4 s) and
# throughput but a wide spread (TTFT p90 about 0.69 s), "steady" a slower median (0.6 s) and a
# narrow spread (p90 about 0.63 s), "slow" is slow: rankd's default order favours jittery; a client
# that cares for its p90 more asks for the cut-off. Reports each run's traffic shares after the
# first minute and the users' TTFT p50 and p90.
#
#   bash benchmarks/cutoffs-gateway.sh              # 120 s per run
#   SECONDS_RUN=60 bash benchmarks/cutoffs-gateway.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${SECONDS_RUN:-120}
RANKD=${RANKD:-}
if [ -z "$RANKD" ]; then
  swift build -c release --product rankd >/dev/null 2>&1
  RANKD=.build/release/rankd
fi
WORK=$(mktemp -d)
cleanup() {
  for pid in ${MOCK_PID:-} ${RANKD_PID:-}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
MODEL="meta-llama/llama-3.3-70b-instruct"
export RANKD_INGEST_TOKEN=cutoffs-bench-ingest-token-0123456789
cat > "$WORK/scenario.yaml" <<YAML
providers:
  jittery: {ttft_ms: 400, tokens_per_second: 200, jitter: 0.9}
  steady: {ttft_ms: 600, tokens_per_second: 80, jitter: 0.05}
  slow: {ttft_ms: 1600, tokens_per_second: 60, jitter: 0.05}
YAML
"$RANKD" mock-provider --listen 127.0.0.1:18301 --scenario "$WORK/scenario.yaml" --probes scoring/probes > "$WORK/mock.log" 2>&1 &
MOCK_PID=$!

run() {  # run NAME [PROVIDER_JSON]
  local dir="$WORK/$1"
  mkdir -p "$dir"
  {
    echo "listen: \"127.0.0.1:18302\""
    echo "data_dir: $dir/data"
    echo "epoch_interval_seconds: 300"
    echo "policy_file: $PWD/scoring/policy.yaml"
    echo "probes_dir: $PWD/scoring/probes"
    echo "tokens:"
    echo "  ingest: {env: RANKD_INGEST_TOKEN}"
    echo "endpoints:"
    for provider in jittery steady slow; do
      echo "  - {provider: $provider, model: $MODEL, base_url: \"http://127.0.0.1:18301/$provider/v1\", upstream_model: m,"
      echo "     supported_parameters: [tools, tool_choice], pricing: {prompt_per_million_usd: 0.5, completion_per_million_usd: 0.8}}"
    done
  } > "$dir/rankd.yaml"
  "$RANKD" serve --config "$dir/rankd.yaml" --log-level warning > "$dir/rankd.log" 2>&1 &
  RANKD_PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18302/readyz >/dev/null && break; sleep 0.1; done
  local extra=()
  [ -n "${2:-}" ] && extra=(--provider "$2")
  python3 scripts/gateway-loop.py --rankd http://127.0.0.1:18302 --token "$RANKD_INGEST_TOKEN" --model "$MODEL" \
    --duration "$SECONDS_RUN" --workers 8 "${extra[@]}" > "$dir/loop.out"
  kill "$RANKD_PID"; wait "$RANKD_PID" 2>/dev/null || true
  RANKD_PID=""
  tail -1 "$dir/loop.out" | python3 -c '
import json, sys
name = sys.argv[1]
report = json.loads(sys.stdin.read())
served = {}
total = 0
for bucket in report["buckets"]:
    if bucket["start_seconds"] >= 60:
        total += bucket["requests"]
        for provider, n in bucket["served"].items():
            served[provider] = served.get(provider, 0) + n
shares = ", ".join("{} {:.1f}%".format(p, 100 * served.get(p, 0) / max(total, 1)) for p in ["jittery", "steady", "slow"])
print("{}: {} requests, {} failed for users; after 60 s: {}; user TTFT p50 {:.0f} ms, p90 {:.0f} ms".format(
    name, report["requests"], report["user_failures"], shares, report["user_ttft_ms_p50"], report["user_ttft_ms_p90"]))
' "$1"
}

echo "rankd $("$RANKD" --version), $(nproc) cores, $SECONDS_RUN s per run"
run "no provider object"
run "preferred_max_latency p90 0.65 s" '{"preferred_max_latency": {"p90": 0.65}}'
