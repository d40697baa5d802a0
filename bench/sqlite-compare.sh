#!/usr/bin/env bash
# The embedded default against the SQLite write-set script, side by side in
# one run (ROUNDS times, alternating):
#   1. bench/sqlite-writeset.py: a Python loop doing a dice bet's reads and
#      writes on Croupier's schema, BATCH bets per fsync, no HTTP;
#   2. `croupier serve` with no flags (api, relay and every consumer in one
#      process, synchronous = FULL) on a fresh data directory, closed loop
#      (croupier-bench --mode max, CONCURRENCY in flight, PLAYERS players);
#   3. the same server, open loop at RATE bets/s: latency from the intended
#      send time.
# Prints one JSON summary; reports and logs stay in $OUT. Build first:
#   cargo build --release -p croupier -p croupier-bench
# Knobs (environment): DURATION (s, 20), ROUNDS (2), PLAYERS (100),
# CONCURRENCY (64), BATCH (64), RATE (5000), PORT, OUT, BIN, and any
# CROUPIER_* setting for the server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-2}
PLAYERS=${PLAYERS:-100}
CONCURRENCY=${CONCURRENCY:-64}
BATCH=${BATCH:-64}
RATE=${RATE:-5000}
PORT=${PORT:-18187}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-$(mktemp -d /tmp/bench-sqlite-XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"

SERVER=
DATA=
stop_server() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
    SERVER=
    [ -z "$DATA" ] || rm -rf "$DATA"
}
trap stop_server EXIT

note_load before
for round in $(seq "$ROUNDS"); do
    "$HERE/sqlite-writeset.py" --croupier "$BIN/croupier" --duration "$DURATION" --batch "$BATCH" \
        --players "$PLAYERS" > "$OUT/script-$round.json" 2> "$OUT/script-$round.log"
    echo "round $round: script $(jq .bets_per_s "$OUT/script-$round.json") bets/s" >&2

    DATA=$(mktemp -d /tmp/bench-sqlite-data-XXXXXX)
    # Setup logs players in unmeasured (no auth quota); a run with one player
    # is not capped by the per-player bet quota.
    CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT=0 CROUPIER_HTTP__RATE_LIMITS__BETS__LIMIT=0 CROUPIER_METRICS_LISTEN=off "$BIN/croupier" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
        > "$OUT/serve-$round.log" 2>&1 &
    SERVER=$!
    wait_for "http://127.0.0.1:$PORT/readyz"
    "$BIN/croupier-bench" --url "http://127.0.0.1:$PORT" --mode max --concurrency "$CONCURRENCY" \
        --players "$PLAYERS" --duration "$DURATION" > "$OUT/max-$round.json" 2> "$OUT/max-$round.log"
    echo "round $round: croupier $(jq .throughput_per_s "$OUT/max-$round.json") bets/s" >&2
    "$BIN/croupier-bench" --url "http://127.0.0.1:$PORT" --mode rate --rate "$RATE" \
        --players "$PLAYERS" --duration "$DURATION" > "$OUT/rate-$round.json" 2> "$OUT/rate-$round.log"
    echo "round $round: at $RATE/s p99 $(jq .latency_ms.p99 "$OUT/rate-$round.json") ms" >&2
    stop_server
done
note_load after

jq -n --arg out "$OUT" --argjson rounds "$ROUNDS" \
    --slurpfile script <(cat "$OUT"/script-*.json) --slurpfile max <(cat "$OUT"/max-*.json) \
    --slurpfile rate <(cat "$OUT"/rate-*.json) '{
    script_bets_per_s: [$script[].bets_per_s],
    croupier_bets_per_s: [$max[].throughput_per_s],
    ratio: ([range($rounds)] | map(($max[.].throughput_per_s / $script[.].bets_per_s) * 100 | round / 100)),
    croupier_max_p99_ms: [$max[].latency_ms.p99],
    open_loop: [$rate[] | {rate: .target_rate, per_s: .throughput_per_s, p50: .latency_ms.p50,
                           p99: .latency_ms.p99, p999: .latency_ms.p999, late: .late, failures: .failures}],
    results: $out
  }'
