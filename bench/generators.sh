#!/usr/bin/env bash
# Reconciles load generators: one `croupier serve` (embedded defaults, fresh
# data directory) takes, ROUNDS times alternating, closed loops from
#   1. wrk (C, one thread) with WRK_CONNECTIONS connections over WRK_PLAYERS
#      players (bench/wrk/bets.lua rotates their tokens);
#   2. croupier-bench with the same connections and players;
#   3. croupier-bench with its defaults (64 in flight, 100 players).
# Both generators share the 2 cores with the server, so what each costs
# moves the figure; the JSON summary gives every run's bets/s. Build first:
#   cargo build --release -p croupier -p croupier-bench   (and install wrk)
# Knobs (environment): DURATION (s, 15), ROUNDS (2), WRK_CONNECTIONS (32),
# WRK_PLAYERS (200), PORT, OUT, BIN, and any CROUPIER_* setting.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
WRK_PLAYERS=${WRK_PLAYERS:-200}
PORT=${PORT:-18188}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-$(mktemp -d /tmp/bench-generators-XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
URL="http://127.0.0.1:$PORT"
DATA=$(mktemp -d /tmp/bench-generators-data-XXXXXX)
mkdir -p "$OUT"

SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
    rm -rf "$DATA"
}
trap cleanup EXIT

# Setup is unmeasured (no auth quota); one player's bets are not capped by
# the per-player quota either, so every generator measures the server.
CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT=0 CROUPIER_HTTP__RATE_LIMITS__BETS__LIMIT=0 \
    CROUPIER_METRICS_LISTEN=off "$BIN/croupier" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
    > "$OUT/serve.log" 2>&1 &
SERVER=$!
wait_for "$URL/readyz"

# wrk's players: register, log in, claim play money; one token per line.
setup_player() {
    local creds="{\"username\":\"wrk-$$-$1\",\"password\":\"wrk-password-$$-$1\"}" token
    curl -sf -o /dev/null -H 'content-type: application/json' -d "$creds" "$URL/v1/auth/register"
    token=$(curl -sf -H 'content-type: application/json' -d "$creds" "$URL/v1/auth/login" | jq -r .token)
    curl -sf -o /dev/null -X POST -H "authorization: Bearer $token" "$URL/v1/wallets/CHIP/claims"
    echo "$token"
}
export -f setup_player
export URL
seq "$WRK_PLAYERS" | xargs -P 4 -I{} bash -c 'setup_player {}' > "$OUT/tokens.txt"
[ "$(wc -l < "$OUT/tokens.txt")" -eq "$WRK_PLAYERS" ] || { echo "player setup failed" >&2; exit 1; }

note_load before
for round in $(seq "$ROUNDS"); do
    TOKENS="$OUT/tokens.txt" wrk -t1 -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency \
        -s "$HERE/wrk/bets.lua" "$URL" > "$OUT/wrk-$round.txt"
    awk '/Requests\/sec/ {print $2}' "$OUT/wrk-$round.txt" > "$OUT/wrk-$round.rate"
    grep -q 'Non-2xx' "$OUT/wrk-$round.txt" && { echo "wrk saw failures:" >&2; cat "$OUT/wrk-$round.txt" >&2; exit 1; }
    echo "round $round: wrk $(cat "$OUT/wrk-$round.rate") bets/s" >&2
    "$BIN/croupier-bench" --url "$URL" --mode max --concurrency "$WRK_CONNECTIONS" \
        --players "$WRK_PLAYERS" --duration "$DURATION" > "$OUT/same-$round.json" 2> "$OUT/same-$round.log"
    echo "round $round: croupier-bench, same shape: $(jq .throughput_per_s "$OUT/same-$round.json") bets/s" >&2
    "$BIN/croupier-bench" --url "$URL" --mode max --duration "$DURATION" \
        > "$OUT/default-$round.json" 2> "$OUT/default-$round.log"
    echo "round $round: croupier-bench, defaults: $(jq .throughput_per_s "$OUT/default-$round.json") bets/s" >&2
done
note_load after

jq -n --arg out "$OUT" --argjson wrk "$(cat "$OUT"/wrk-*.rate | jq -s .)" \
    --slurpfile same <(cat "$OUT"/same-*.json) --slurpfile dflt <(cat "$OUT"/default-*.json) '{
    wrk_bets_per_s: $wrk,
    bench_same_shape_bets_per_s: [$same[].throughput_per_s],
    bench_same_shape_cpu_us_per_request: [$same[].client_cpu_us_per_request],
    bench_defaults_bets_per_s: [$dflt[].throughput_per_s],
    results: $out
  }'
