#!/usr/bin/env bash
# Catalog benchmark: SQLite vs PostgreSQL on the same three operations (a
# 1000-point metrics batch, a version by alias, a metric search over 10,000
# runs). Builds crates/versa-catalog/examples/catalog_bench.rs in release mode,
# starts a throwaway PostgreSQL server (data and socket in a temp dir, stopped
# and removed on exit; fsync left ON so both databases pay for durability),
# and prints one table with the PostgreSQL/SQLite ratio.
#
# Usage: bash bench/catalog/run.sh
# Needs initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin
# (apt-get install -y postgresql); as root the server runs as user postgres.
set -euo pipefail
cd "$(dirname "$0")/../.."

find_pg() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local candidate
  candidate=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$candidate" ] || { echo "bench: $1 not found (apt-get install -y postgresql)" >&2; exit 1; }
  echo "$candidate"
}
INITDB=$(find_pg initdb)
PG_CTL=$(find_pg pg_ctl)
PSQL=$(find_pg psql)

echo "== building the benchmark (release)"
cargo build --release -p versa-catalog --example catalog_bench
BENCH=target/release/examples/catalog_bench

WORK=$(mktemp -d /tmp/versa-catalog-bench.XXXXXX)
AS_PG=()
if [ "$(id -u)" = 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  AS_PG=(runuser -u postgres --)
fi
mkdir -p "$WORK/socket"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
stop() {
  "${AS_PG[@]}" "$PG_CTL" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap stop EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${AS_PG[@]}" "$INITDB" -D "$WORK/data" -U postgres --auth=trust --no-locale --encoding=UTF8 >/dev/null
"${AS_PG[@]}" "$PG_CTL" -D "$WORK/data" -l "$WORK/server.log" -w \
  -o "-p $PORT -k $WORK/socket -c listen_addresses=127.0.0.1" start >/dev/null
"$PSQL" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c 'CREATE DATABASE bench'

echo "== catalog_bench ($(nproc) cores; PostgreSQL $("${AS_PG[@]}" "$PG_CTL" --version | awk '{print $3}') on 127.0.0.1:$PORT)"
"$BENCH" --sqlite "$WORK/bench.sqlite" --postgres "postgres://postgres@127.0.0.1:$PORT/bench"
