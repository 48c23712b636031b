#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: its own data directory, 127.0.0.1 on a random
# free port, trust authentication for the local user (nothing else can reach it).
#   eval "$(bash scripts/postgres-test-cluster.sh start)"   # exports RANKD_TEST_POSTGRES_*
#   bash scripts/postgres-test-cluster.sh stop "$RANKD_TEST_POSTGRES_DATA"
# Needs Debian's postgresql package. As root, the server runs as the postgres user (PostgreSQL
# refuses to run as root).
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
  exit 1
fi
as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi

case "${1:-}" in
start)
  data=$(mktemp -d /tmp/rankd-pg.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as_owner[@]}" "$bin/initdb" -D "$data/db" -U rankd --auth=trust -E UTF8 >"$data/initdb.log" 2>&1 || {
    cat "$data/initdb.log" >&2
    exit 1
  }
  # In the cluster's own file, so a plain pg_ctl start (the server-restart test) starts it alike.
  printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nmax_connections = 300\nfsync = on\n" \
    "$port" "$data" | "${as_owner[@]}" tee -a "$data/db/postgresql.conf" >/dev/null
  "${as_owner[@]}" "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 30 start >/dev/null
  "${as_owner[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U rankd rankd
  echo "export RANKD_TEST_POSTGRES_URL=postgres://rankd@127.0.0.1:$port/rankd?sslmode=disable"
  echo "export RANKD_TEST_POSTGRES_DATA=$data"
  echo "export RANKD_TEST_POSTGRES_BIN=$bin"
  ;;
stop)
  data=${2:?the data directory printed by start}
  "${as_owner[@]}" "$bin/pg_ctl" -D "$data/db" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$data"
  ;;
*)
  echo "usage: $0 start | stop DATA_DIR" >&2
  exit 2
  ;;
esac
