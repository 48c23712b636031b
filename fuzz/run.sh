#!/usr/bin/env bash
# Builds the libFuzzer targets (release, -sanitize=fuzzer,address) and runs each for SECONDS
# seconds (default 600), JOBS at a time (default 2), starting from seed corpora made of rankd's
# own examples. Crashes are written to fuzz/crashes/TARGET/; the script exits 1 if any target
# found one (leak detection is off: Swift's runtime caches and global constants look like leaks at exit). Corpora grow in .build/fuzz-corpus/ and are reused by the next run.
#
#   bash fuzz/run.sh                       # 4 targets x 10 minutes, 2 at a time: about 20 minutes
#   SECONDS_PER_TARGET=60 bash fuzz/run.sh FuzzTelemetry
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-600}
JOBS=${JOBS:-2}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(FuzzTelemetry FuzzOTLP FuzzConfig FuzzStream)
ROOT=$(cd .. && pwd)

if ! swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library > "$ROOT/.build/fuzz-build.log" 2>&1; then
  grep -E "error" "$ROOT/.build/fuzz-build.log" | head -20
  echo "the fuzz targets did not build (full log: .build/fuzz-build.log)" >&2
  exit 2
fi
BIN=$(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --show-bin-path)

# Seeds: the documented telemetry examples, OTLP exports the tests build, configs and probes.
seed() {
  local target=$1 dir="$ROOT/.build/fuzz-corpus/$1"
  mkdir -p "$dir"
  case $target in
    FuzzTelemetry)
      printf '%s' '{"request_id":"a","timestamp":"2026-11-25T06:47:07.120Z","model":"m/x","provider":"p","status":200,"ttft_ms":412,"tools_offered":true,"tool_call_valid":true}' > "$dir/seed-object"
      printf '%s\n%s\n' '{"request_id":"a","timestamp":1767225600,"endpoint_id":"p:m/x","outcome":"ok"}' '[1,2,{"x":null}]' > "$dir/seed-ndjson" ;;
    FuzzOTLP)
      printf '%s' '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gw"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat","startTimeUnixNano":"1767225600000000000","endTimeUnixNano":"1767225601000000000","attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"m/x"}},{"key":"gen_ai.provider.name","value":{"stringValue":"p"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"42"}}],"status":{"code":2}}]}]}]}' > "$dir/seed-json" ;;
    FuzzConfig)
      cp "$ROOT/scoring/policy.yaml" "$dir/seed-policy"; cp "$ROOT/deploy/rankd.example.yaml" "$dir/seed-rankd"
      cp "$(ls "$ROOT"/scoring/probes/*.yaml | head -1)" "$dir/seed-probe" ;;
    FuzzStream)
      printf 'data: {"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}\n\ndata: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\": \\"Paris\\"}"}}]}}]}\n\ndata: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n' > "$dir/seed-sse"
      printf '%s' '{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}]}' > "$dir/seed-json" ;;
  esac
}

run() {
  local target=$1 crashes="$PWD/crashes/$1"
  mkdir -p "$crashes"
  seed "$target"
  echo "== $target: ${SECONDS_PER_TARGET} s"
  ASAN_OPTIONS=detect_leaks=0 RANKD_PROBES="$ROOT/scoring/probes" "$BIN/$target" "$ROOT/.build/fuzz-corpus/$target" -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 -max_len=65536 -artifact_prefix="$crashes/" -print_final_stats=1 > "$ROOT/.build/fuzz-$target.log" 2>&1 || true
  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" "$ROOT/.build/fuzz-$target.log" | sed "s/^/$target: /"
}

FAILED=0
for ((i = 0; i < ${#TARGETS[@]}; i += JOBS)); do
  for target in "${TARGETS[@]:i:JOBS}"; do run "$target" & done
  wait
done
for target in "${TARGETS[@]}"; do
  if ls "crashes/$target"/crash-* "crashes/$target"/timeout-* "crashes/$target"/oom-* >/dev/null 2>&1; then
    echo "$target: found inputs that crash, hang or exhaust memory: fuzz/crashes/$target/"; FAILED=1
  fi
done
exit $FAILED
