#!/usr/bin/env bash
# One hot player against many: one `croupier serve` takes closed loops of
# dice bets (croupier-bench --mode max, CONCURRENCY in flight) from 1 player
# and from MANY players, ROUNDS times alternating. Embedded by default (fresh
# data directory); with PG set (a server URL without a database, e.g.
# postgres://postgres@127.0.0.1:5432) on a fresh PostgreSQL database, dropped
# at the end. Prints one JSON summary. Build first:
#   cargo build --release -p croupier -p croupier-bench
# Knobs (environment): PG, MANY (1000), DURATION (s, 15), ROUNDS (2),
# CONCURRENCY (64), PORT, OUT, BIN, and any CROUPIER_* setting.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MANY=${MANY:-1000}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-2}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18189}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-$(mktemp -d /tmp/bench-players-XXXXXX)}
URL="http://127.0.0.1:$PORT"
mkdir -p "$OUT"

SERVER= DATA= DB=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
    [ -z "$DATA" ] || rm -rf "$DATA"
    [ -z "$DB" ] || dropdb --maintenance-db="$PG/postgres" --if-exists "$DB"
}
trap cleanup EXIT

if [ -n "${PG:-}" ]; then
    DB="cb_players_$(date +%s)_$$"
    createdb --maintenance-db="$PG/postgres" "$DB"
    STORE=(--database-url "$PG/$DB")
else
    DATA=$(mktemp -d /tmp/bench-players-data-XXXXXX)
    STORE=(--data-dir "$DATA")
fi
# Setup is unmeasured (no auth quota), and the per-player bet quota would cap
# the one-player run: it measures the store, not the policy.
CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT=0 CROUPIER_HTTP__RATE_LIMITS__BETS__LIMIT=0 \
    CROUPIER_METRICS_LISTEN=off "$BIN/croupier" serve --listen "127.0.0.1:$PORT" "${STORE[@]}" \
    > "$OUT/serve.log" 2>&1 &
SERVER=$!
wait_for "$URL/readyz"

note_load before
for round in $(seq "$ROUNDS"); do
    for players in 1 "$MANY"; do
        "$BIN/croupier-bench" --url "$URL" --mode max --concurrency "$CONCURRENCY" --players "$players" \
            --duration "$DURATION" > "$OUT/p$players-$round.json" 2> "$OUT/p$players-$round.log"
        echo "round $round: $players players $(jq .throughput_per_s "$OUT/p$players-$round.json") bets/s" >&2
    done
done
note_load after

jq -n --arg out "$OUT" --arg store "${PG:+postgresql}" --argjson many "$MANY" \
    --slurpfile one <(cat "$OUT"/p1-*.json) --slurpfile lots <(cat "$OUT"/p"$MANY"-*.json) '{
    store: (if $store == "" then "sqlite" else $store end),
    one_player_bets_per_s: [$one[].throughput_per_s],
    many_players: $many,
    many_players_bets_per_s: [$lots[].throughput_per_s],
    p99_ms: {one: [$one[].latency_ms.p99], many: [$lots[].latency_ms.p99]},
    failures: [($one + $lots)[].failures | select(length > 0)],
    results: $out
  }'
