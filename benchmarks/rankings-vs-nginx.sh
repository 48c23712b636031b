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
. benchmarks/wrk-lib.sh

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

write_one_model_registry "$WORK/rankd.yaml" "$RANKD_PORT" "$ENDPOINTS" "$WORK/data" "$MODEL"

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

wrk_measure 3 "http://127.0.0.1:$RANKD_PORT$PATH_" >/dev/null   # warm-up
wrk_measure 3 "http://127.0.0.1:$NGINX_PORT$PATH_" >/dev/null

printf "%-6s %-6s %14s %10s\n" round server "requests/s" "p99 ms"
: > "$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  read -r rps p99 < <(wrk_measure "$SECONDS_PER_ROUND" "http://127.0.0.1:$RANKD_PORT$PATH_")
  printf "%-6s %-6s %14.0f %10.2f\n" "$round" rankd "$rps" "$p99"; echo "rankd $rps $p99" >> "$WORK/results"
  read -r rps p99 < <(wrk_measure "$SECONDS_PER_ROUND" "http://127.0.0.1:$NGINX_PORT$PATH_")
  printf "%-6s %-6s %14.0f %10.2f\n" "$round" nginx "$rps" "$p99"; echo "nginx $rps $p99" >> "$WORK/results"
done

# Medians over rounds, and the ratio.
median_ratio "$WORK/results" rankd nginx 0.70
echo "rankd p99 goal < 2 ms"
