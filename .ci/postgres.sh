#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the history tests (Debian's postgresql
# package): creates the cluster once, starts it when it is not running, makes the role and
# the database, and prints the line that exports HIL_TEST_POSTGRES_URL. Safe to run again.
#   eval "$(.ci/postgres.sh)"
# HIL_PG_PORT (default 55432) and HIL_PG_DATA (default /tmp/hil-postgres-PORT) choose where.
set -euo pipefail
PORT=${HIL_PG_PORT:-55432}
DATA=${HIL_PG_DATA:-/tmp/hil-postgres-$PORT}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ ! -s "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    mkdir -p "$DATA"
    chmod 700 "$DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$DATA"; fi
    as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --locale=C.UTF-8 --encoding=UTF8 --no-sync \
        >"$DATA.initdb.log"
fi
if ! as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_postgres "$BIN/pg_ctl" -D "$DATA" -w -t 60 -l "$DATA/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA" start >/dev/null
fi
sql() { as_postgres "$BIN/psql" -h "$DATA" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtAc "$1"; }
if [ -z "$(sql "SELECT 1 FROM pg_roles WHERE rolname = 'hil'")" ]; then
    sql "CREATE ROLE hil LOGIN PASSWORD 'hil'"
fi
if [ -z "$(sql "SELECT 1 FROM pg_database WHERE datname = 'hil_test'")" ]; then
    sql "CREATE DATABASE hil_test OWNER hil"
fi
echo "export HIL_TEST_POSTGRES_URL=postgresql://hil:hil@127.0.0.1:$PORT/hil_test"
