#!/usr/bin/env bash
# Benchmark: GET /v1/rankings/{model} served by rankd (release build) against nginx serving the
# same JSON bytes from a file, with wrk on loopback, in the same run, alternating rounds.
#
#   bash benchmarks/rankings-vs-nginx.sh            # 3 rounds of 20 s each per server
#   ROUNDS=5 SECONDS_PER_ROUND=30 CONNECTIONS=64 bash benchmarks/rankings-vs-nginx.sh
#
# The goal (issue 6): rankd at least 0.7x nginx's requests/s, and p99 under 2 ms.
# wrk, rankd and nginx share the machine's cores; both servers get the same handicap.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_ROUND=${SECONDS_PER_ROUND:-20}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ENDPOINTS=${ENDPOINTS:-12}
RANKD_PORT=${RANKD_PORT:-18181}
NGINX_PORT=${NGINX_PORT:-18182}
MODEL="meta-llama/llama-3.3-70b-instruct"
PATH_="/v1/rankings/$MODEL"

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light
fi
swift build -c release --product rankd >/dev/null 2>&1
RANKD=.build/release/rankd

WORK=$(mktemp -d)
chmod 755 "$WORK"   # nginx workers run as an unprivileged user
cleanup() {
  [ -n "${RANKD_PID:-}" ] && kill "$RANKD_PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A registry of one model served by $ENDPOINTS providers (a popular open model has about a dozen).
{
  echo "listen: \"127.0.0.1:$RANKD_PORT\""
  echo "data_dir: $WORK/data"
  echo "epoch_interval_seconds: 300"
  echo "endpoints:"
  for i in $(seq 1 "$ENDPOINTS"); do
    cat <<YAML
  - provider: provider$i
    model: $MODEL
    base_url: https://provider$i.example.com/v1
    upstream_model: meta-llama/Llama-3.3-70B-Instruct
    quantization: fp8
    pricing: {prompt_per_million_usd: 0.$((20 + i)), completion_per_million_usd: 0.$((40 + i))}
    context_length: 131072
    supported_parameters: [tools, tool_choice, response_format]
    regions: [us]
YAML
  done
} > "$WORK/rankd.yaml"

"$RANKD" serve --config "$WORK/rankd.yaml" --no-probe --log-level warning > "$WORK/rankd.log" 2>&1 &
RANKD_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$RANKD_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$RANKD_PORT$PATH_" -o "$WORK/model.json"
chmod 644 "$WORK/model.json"

mkdir -p "$WORK/nginx-temp"
cat > "$WORK/nginx.conf" <<CONF
worker_processes $THREADS;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-temp;
  proxy_temp_path $WORK/nginx-temp;
  fastcgi_temp_path $WORK/nginx-temp;
  uwsgi_temp_path $WORK/nginx-temp;
  scgi_temp_path $WORK/nginx-temp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = $PATH_ { default_type application/json; alias $WORK/model.json; }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK"
curl -sf "http://127.0.0.1:$NGINX_PORT$PATH_" -o "$WORK/nginx.json" || { cat "$WORK/nginx-error.log"; exit 1; }
cmp -s "$WORK/model.json" "$WORK/nginx.json" || { echo "nginx does not serve the same bytes"; exit 1; }

echo "rankd $("$RANKD" --version) (release) vs $(nginx -v 2>&1 | sed 's/.*: //'), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS"
echo "body: $(wc -c < "$WORK/model.json") bytes ($ENDPOINTS endpoints), $ROUNDS rounds of $SECONDS_PER_ROUND s per server, alternating"

# Runs wrk once; prints "requests_per_second p99_ms".
measure() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${1}s" --latency "$2")
  local rps p99
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/, "", v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v=v*1000}; print v}')
  if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx answers: $out" >&2; exit 1; fi
  echo "$rps $p99"
}

measure 3 "http://127.0.0.1:$RANKD_PORT$PATH_" >/dev/null   # warm-up
measure 3 "http://127.0.0.1:$NGINX_PORT$PATH_" >/dev/null

printf "%-6s %-6s %14s %10s\n" round server "requests/s" "p99 ms"
: > "$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  read -r rps p99 < <(measure "$SECONDS_PER_ROUND" "http://127.0.0.1:$RANKD_PORT$PATH_")
  printf "%-6s %-6s %14.0f %10.2f\n" "$round" rankd "$rps" "$p99"; echo "rankd $rps $p99" >> "$WORK/results"
  read -r rps p99 < <(measure "$SECONDS_PER_ROUND" "http://127.0.0.1:$NGINX_PORT$PATH_")
  printf "%-6s %-6s %14.0f %10.2f\n" "$round" nginx "$rps" "$p99"; echo "nginx $rps $p99" >> "$WORK/results"
done

# Medians over rounds, and the ratio.
awk '
  { rps[$1] = rps[$1] " " $2; p99[$1] = p99[$1] " " $3 }
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    r = median(rps["rankd"]); n = median(rps["nginx"])
    printf "median rankd: %.0f requests/s, p99 %.2f ms\n", r, median(p99["rankd"])
    printf "median nginx: %.0f requests/s, p99 %.2f ms\n", n, median(p99["nginx"])
    printf "ratio rankd/nginx: %.2f (goal >= 0.70); rankd p99 goal < 2 ms\n", r / n
  }' "$WORK/results"
