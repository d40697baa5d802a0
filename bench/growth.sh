#!/usr/bin/env bash
# Growth: bets, history reads (GET /v1/bets) and stats reads (GET
# /v1/me/stats) with SIZES bets already stored. One store grows through the
# sizes: for each, with the server stopped, a bulk loader adds bets for the
# run's PLAYERS up to that size (bench/sqlite-load.py; with PG,
# bench/pg-load.sql); then `croupier serve` starts, its consumers project the
# loaded bets (the drain is timed, not part of the figures), and
# croupier-bench runs a closed loop of each request for DURATION seconds.
# Embedded by default (fresh data directory); with PG set (a server URL
# without a database, e.g. postgres://postgres@127.0.0.1:5432) on a fresh
# PostgreSQL database, dropped at the end. Prints one JSON summary. Build:
#   cargo build --release -p croupier -p croupier-bench
# Knobs (environment): PG, SIZES ("0 1000000 10000000"), PLAYERS (100),
# DURATION (s, 15), CONCURRENCY (64), DRAIN_TIMEOUT (s, 3600), PORT, OUT,
# BIN, KEEP (keep the data directory or database), and any CROUPIER_* setting.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HERE=$(dirname "$0")
SIZES=${SIZES:-0 1000000 10000000}
PLAYERS=${PLAYERS:-100}
DURATION=${DURATION:-15}
CONCURRENCY=${CONCURRENCY:-64}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-3600}
PORT=${PORT:-18191}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-$(mktemp -d /tmp/bench-growth-XXXXXX)}
URL="http://127.0.0.1:$PORT"
RUN="growth$$"
mkdir -p "$OUT"

SERVER= DATA= DB=
stop_server() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
    SERVER=
}
cleanup() {
    stop_server
    if [ -n "${KEEP:-}" ]; then echo "kept ${DB:-$DATA}" >&2; return; fi
    [ -z "$DATA" ] || rm -rf "$DATA"
    [ -z "$DB" ] || dropdb --maintenance-db="$PG/postgres" --if-exists "$DB"
}
trap cleanup EXIT

if [ -n "${PG:-}" ]; then
    DB="cb_growth_$(date +%s)_$$"
    createdb --maintenance-db="$PG/postgres" "$DB"
    psql -q "$PG/$DB" -c 'CREATE EXTENSION pgcrypto'  # hmac() for the loader's draws
    STORE=(--database-url "$PG/$DB")
    # sql QUERY: one value from the database (beside the server).
    sql() { psql -Atq "$PG/$DB" -c "$1"; }
    store_bytes() { sql 'SELECT pg_database_size(current_database())'; }
    load() {  # load N: at least N more bets, in statements of at most 1,000 per player
        local left=$((($1 + PLAYERS - 1) / PLAYERS)) per
        while [ "$left" -gt 0 ]; do
            per=$((left < 1000 ? left : 1000))
            psql -Atq -v ON_ERROR_STOP=1 -v pattern="bench-$RUN-%" -v per="$per" "$PG/$DB" -f "$HERE/pg-load.sql"
            left=$((left - per))
        done
        sql 'VACUUM ANALYZE'
    }
else
    DATA=$(mktemp -d /tmp/bench-growth-data-XXXXXX)
    STORE=(--data-dir "$DATA")
    sql() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$DATA/croupier.db" "$1"; }
    # The database and its WAL, not the analytics export beside them.
    store_bytes() { du -cb "$DATA"/croupier.db* | tail -1 | cut -f1; }
    load() { "$HERE/sqlite-load.py" --data-dir "$DATA" --run-id "$RUN" --bets "$1" | tail -1; }
fi

start_server() {
    # The quotas would measure policy, not the store (see bench/README.md);
    # the read quota stays on, far above the run's rate, as in reads.sh.
    CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT=0 CROUPIER_HTTP__RATE_LIMITS__BETS__LIMIT=0 \
        CROUPIER_HTTP__RATE_LIMITS__DEFAULT__LIMIT=10000000 \
        CROUPIER_METRICS_LISTEN=off "$BIN/croupier" serve --listen "127.0.0.1:$PORT" "${STORE[@]}" \
        >> "$OUT/serve.log" 2>&1 &
    SERVER=$!
    wait_for "$URL/readyz"
}

# drain NAME: waits until every event is published (its consumers ran), and
# notes how long it took in $OUT/drain-NAME.txt.
drain() {
    local start=$SECONDS
    until [ "$(sql 'SELECT COUNT(*) FROM outbox WHERE published_at IS NULL')" = 0 ]; do
        if [ $((SECONDS - start)) -ge "$DRAIN_TIMEOUT" ]; then
            echo "the consumers did not catch up within ${DRAIN_TIMEOUT}s" >&2
            exit 1
        fi
        sleep 1
    done
    echo $((SECONDS - start)) > "$OUT/drain-$1.txt"
}

measure() {
    local size=$1 request
    for request in bet history stats; do
        # The consumers catch up on the previous run first: each request is
        # measured alone.
        drain "$request-$size"
        "$BIN/croupier-bench" --url "$URL" --mode max --concurrency "$CONCURRENCY" --players "$PLAYERS" \
            --run-id "$RUN" --request "$request" --duration "$DURATION" \
            > "$OUT/$request-$size.json" 2> "$OUT/$request-$size.log"
        echo "$size stored: $request $(jq .throughput_per_s "$OUT/$request-$size.json")/s" \
            "p99 $(jq .latency_ms.p99 "$OUT/$request-$size.json") ms" >&2
    done
}

note_load before
start_server
for size in $SIZES; do
    stored=$(sql 'SELECT COUNT(*) FROM bets') loaded=0
    if [ "$size" -gt "$stored" ]; then
        loaded=$((size - stored))
        stop_server
        started=$SECONDS
        load "$loaded" > "$OUT/load-$size.log" 2>&1
        # What was written (the PostgreSQL loader rounds up to whole players).
        loaded=$(($(sql 'SELECT COUNT(*) FROM bets') - stored))
        echo "loaded $loaded bets in $((SECONDS - started)) s" >&2
        start_server
    fi
    drain "$size"
    stored=$(sql 'SELECT COUNT(*) FROM bets')
    measure "$size"
    jq -n --argjson size "$size" --argjson loaded "$loaded" --argjson stored "$stored" \
        --argjson drain "$(cat "$OUT/drain-$size.txt")" \
        --argjson bytes "$(store_bytes)" \
        --slurpfile bet "$OUT/bet-$size.json" --slurpfile history "$OUT/history-$size.json" \
        --slurpfile stats "$OUT/stats-$size.json" '{
        size: $size, loaded: $loaded, stored_before_run: $stored, drain_s: $drain,
        bytes_per_bet: (if $stored > 0 then ($bytes / $stored | floor) else null end),
        bets_per_s: $bet[0].throughput_per_s, bet_p99_ms: $bet[0].latency_ms.p99,
        history_per_s: $history[0].throughput_per_s, history_p99_ms: $history[0].latency_ms.p99,
        stats_per_s: $stats[0].throughput_per_s, stats_p99_ms: $stats[0].latency_ms.p99,
        failures: [($bet + $history + $stats)[].failures | select(length > 0)]
      }' > "$OUT/size-$size.json"
done
stop_server
note_load after

jq -s --arg out "$OUT" --arg store "${PG:+postgresql}" '{store: (if $store == "" then "sqlite" else $store end), sizes: sort_by(.size), results: $out}' "$OUT"/size-*.json
