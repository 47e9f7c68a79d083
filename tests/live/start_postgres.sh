#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for the Airflow 2.11 crash test (LocalExecutor refuses SQLite).
#
#   start_postgres.sh DATA_DIR PORT   -> installs Debian's postgresql-15 if missing, initdb DATA_DIR,
#                                        starts it on 127.0.0.1:PORT (socket in DATA_DIR), creates
#                                        role/db "airflow", prints the DSN as the last line.
#   start_postgres.sh --stop DATA_DIR -> fast shutdown, then SIGKILL of the postmaster PID if needed.
#
# Runs the server as the "postgres" OS user when invoked as root (postgres refuses to run as root).
set -euo pipefail

PGBIN=""
find_pgbin() {
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ]; then PGBIN="$d"; return 0; fi
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = "--stop" ]; then
  DATA="$2"
  find_pgbin || exit 0
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 20 stop >/dev/null 2>&1 || true
  if [ -f "$DATA/postmaster.pid" ]; then
    pid="$(head -1 "$DATA/postmaster.pid")"
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  fi
  exit 0
fi

DATA="$1"
PORT="$2"

if ! find_pgbin; then
  echo "postgresql-15 not found: installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql-15 >&2
  find_pgbin
fi

mkdir -p "$DATA"
if [ "$(id -u)" = "0" ]; then
  chown postgres "$DATA"
  # the postgres user must be able to reach DATA_DIR (its parent is the harness's private temp dir)
  chmod o+x "$(dirname "$DATA")"
fi
chmod 700 "$DATA"

as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null

psql_() { as_pg "$PGBIN/psql" -h "$DATA" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql_ -c "CREATE ROLE airflow LOGIN PASSWORD 'airflow'"
psql_ -c "CREATE DATABASE airflow OWNER airflow"

echo "postgresql://airflow:airflow@127.0.0.1:$PORT/airflow"
