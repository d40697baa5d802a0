#!/usr/bin/env bash
# Croupier on PostgreSQL against pgbench on the same server, in one run:
#
#  1. pgbench, a bet-shaped transaction (bench/pgbench/bet.sql: guarded wallet
#     UPDATE, bet INSERT, outbox INSERT), $CLIENTS clients, -M prepared;
#  2. Croupier (release build) serving on PostgreSQL, closed loop
#     (croupier-bench --mode max): its most bets/s through HTTP;
#  3. Croupier again, open loop at half that rate: latency percentiles.
#
# Each part gets a fresh scratch database, dropped at the end. Results (JSON,
# logs) go to $OUT; a summary goes to stdout. Build first:
#   cargo build --release -p croupier -p croupier-bench
#
# Knobs (environment): PG (server URL without a database), DURATION (s per
# phase), PLAYERS, CLIENTS (pgbench), CONCURRENCY (croupier-bench max mode),
# BIN (directory of the binaries), CARGO_TARGET_DIR, OUT, PORT, and any
# CROUPIER_DATABASE__* setting, e.g.
# CROUPIER_DATABASE__BET_BATCH_MAX=1 to measure without batching.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PG=${PG:-postgres://postgres@127.0.0.1:5432}
DURATION=${DURATION:-20}
PLAYERS=${PLAYERS:-100}
CLIENTS=${CLIENTS:-32}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18182}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-$(mktemp -d /tmp/pg-compare-XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=$(date +%s)_$$
PGB_DB=cb_pgbench_$RUN
CR_DB=cb_croupier_$RUN

for tool in psql pgbench createdb dropdb curl jq; do
    command -v "$tool" > /dev/null || { echo "needs $tool" >&2; exit 2; }
done
for bin in croupier croupier-bench; do
    [ -x "$BIN/$bin" ] || { echo "missing $BIN/$bin: cargo build --release -p croupier -p croupier-bench" >&2; exit 2; }
done
mkdir -p "$OUT"

SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
    dropdb --if-exists --maintenance-db="$PG/postgres" "$PGB_DB" || true
    dropdb --if-exists --maintenance-db="$PG/postgres" "$CR_DB" || true
}
trap cleanup EXIT

note_load before

# 1. pgbench.
createdb --maintenance-db="$PG/postgres" "$PGB_DB"
psql -q -X "$PG/$PGB_DB" -v players="$PLAYERS" -f "$HERE/pgbench/setup.sql" 2> /dev/null
psql -q -X "$PG/$PGB_DB" -c CHECKPOINT
echo "pgbench: $CLIENTS clients, -M prepared, ${DURATION}s" >&2
pgbench -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" -D players="$PLAYERS" \
    -f "$HERE/pgbench/bet.sql" "$PG/$PGB_DB" > "$OUT/pgbench.txt" 2>&1
PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$OUT/pgbench.txt")
cat "$OUT/pgbench.txt" >&2

# 2. Croupier on PostgreSQL: its own database, migrated by `serve`. Setup is
# unmeasured (no auth quota), and the per-player bet quota would cap a run
# with one player: both off unless set.
export CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT=${CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT:-0}
export CROUPIER_HTTP__RATE_LIMITS__BETS__LIMIT=${CROUPIER_HTTP__RATE_LIMITS__BETS__LIMIT:-0}
createdb --maintenance-db="$PG/postgres" "$CR_DB"
"$BIN/croupier" serve --listen "127.0.0.1:$PORT" --database-url "$PG/$CR_DB" > "$OUT/serve.log" 2>&1 &
SERVER=$!
wait_for "http://127.0.0.1:$PORT/readyz"
psql -q -X "$PG/$CR_DB" -c CHECKPOINT

echo "croupier: closed loop, $CONCURRENCY in flight, ${DURATION}s" >&2
"$BIN/croupier-bench" --url "http://127.0.0.1:$PORT" --mode max --concurrency "$CONCURRENCY" \
    --players "$PLAYERS" --duration "$DURATION" > "$OUT/max.json"
MAX=$(jq '.throughput_per_s' "$OUT/max.json")
HALF=$(jq '(.throughput_per_s / 2) | floor' "$OUT/max.json")

# What the closed loop wrote is vacuumed and checkpointed first, so that
# autovacuum and a checkpoint do not land in the measured window.
psql -q -X "$PG/$CR_DB" -c "VACUUM (ANALYZE)" -c CHECKPOINT
echo "croupier: open loop at $HALF/s, ${DURATION}s" >&2
"$BIN/croupier-bench" --url "http://127.0.0.1:$PORT" --mode rate --rate "$HALF" \
    --players "$PLAYERS" --duration "$DURATION" > "$OUT/rate.json"

note_load after
jq -n --argjson pgbench "$PGBENCH_TPS" --slurpfile max "$OUT/max.json" --slurpfile rate "$OUT/rate.json" \
    --arg out "$OUT" '{
    pgbench_tps: $pgbench,
    croupier_max_bets_per_s: $max[0].throughput_per_s,
    ratio: (($max[0].throughput_per_s / $pgbench) * 100 | round / 100),
    max_failures: $max[0].failures,
    max_latency_ms: $max[0].latency_ms,
    half_rate: $rate[0].target_rate,
    half_rate_throughput: $rate[0].throughput_per_s,
    half_rate_latency_ms: $rate[0].latency_ms,
    half_rate_failures: $rate[0].failures,
    half_rate_late: $rate[0].late,
    results: $out
  }'
