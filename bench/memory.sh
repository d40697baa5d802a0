#!/usr/bin/env bash
# Memory and storage of the embedded default under a long load: `serve` on a
# fresh SQLite data directory, PLAYERS registered and logged in (argon2 each
# time), then a closed loop of dice bets for DURATION seconds. Reports the
# server's RSS (now and peak), the bets settled, and the database, WAL and
# bytes per bet. Build first:
#   cargo build --release -p croupier -p croupier-bench
# Knobs (environment): PLAYERS (10000), DURATION (s, 200), CONCURRENCY (64),
# PORT, METRICS (its port), OUT, BIN (directory of both binaries), CARGO_TARGET_DIR, and any CROUPIER_* setting for the server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PLAYERS=${PLAYERS:-10000}
DURATION=${DURATION:-200}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18183}
METRICS=${METRICS:-18184}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-$(mktemp -d /tmp/bench-memory-XXXXXX)}
DATA=$(mktemp -d /tmp/bench-memory-data-XXXXXX)
mkdir -p "$OUT"

SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
    rm -rf "$DATA"
}
trap cleanup EXIT

# Registration is what is measured here: no per-IP limit on logins.
CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT=0 CROUPIER_METRICS_LISTEN="127.0.0.1:$METRICS" \
"$BIN/croupier" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" > "$OUT/serve.log" 2>&1 &
SERVER=$!
wait_for "http://127.0.0.1:$PORT/readyz"
status() { awk -v k="$1:" '$1 == k { print $2 * 1024 }' "/proc/$SERVER/status"; }

"$BIN/croupier-bench" --url "http://127.0.0.1:$PORT" --mode max --concurrency "$CONCURRENCY" \
    --players "$PLAYERS" --duration "$DURATION" > "$OUT/max.json" 2> "$OUT/bench.log"
# Let the consumers drain what the load left in the outbox before measuring.
for _ in $(seq 600); do
    [ "$(curl -s "http://127.0.0.1:$METRICS/metrics" | awk '$1 == "croupier_outbox_backlog" { print $2 }')" = 0 ] && break
    sleep 0.5
done

DB=$(find "$DATA" -name '*.db' | head -1)
BETS=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True).execute('SELECT COUNT(*) FROM bets').fetchone()[0])" "$DB")
jq -n --argjson rss "$(status VmRSS)" --argjson hwm "$(status VmHWM)" --argjson bets "$BETS" \
    --argjson db "$(stat -c %s "$DB")" --argjson wal "$(stat -c %s "$DB-wal" 2> /dev/null || echo 0)" \
    --argjson players "$PLAYERS" --slurpfile max "$OUT/max.json" '{
    players: $players, bets: $bets, bets_per_s: $max[0].throughput_per_s,
    rss_mib: ($rss / 1048576 | round), peak_rss_mib: ($hwm / 1048576 | round),
    db_mib: ($db / 1048576 | round), wal_mib: ($wal / 1048576 | round),
    bytes_per_bet: (if $bets > 0 then ($db / $bets | round) else null end)
  }'
