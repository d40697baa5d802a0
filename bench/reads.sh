#!/usr/bin/env bash
# Authenticated reads against axum's hello world, side by side in one run:
# `hello-axum` (bench/src/bin) and `croupier serve` (embedded defaults, fresh
# data directory) each take a closed loop of CONCURRENCY requests for
# DURATION seconds: GET / of the hello world, then GET /v1/wallets and
# GET /v1/me as PLAYERS players in turn, ROUNDS times alternating. Prints one
# JSON summary (each run's requests/s and p99, and the ratios of the best
# runs). Build first:
#   cargo build --release -p croupier -p croupier-bench
# Knobs (environment): DURATION (s, 10), ROUNDS (2), PLAYERS (100),
# CONCURRENCY (64), PORT, HELLO_PORT, OUT, BIN (directory of the binaries).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
PLAYERS=${PLAYERS:-100}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18185}
HELLO_PORT=${HELLO_PORT:-18186}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-$(mktemp -d /tmp/bench-reads-XXXXXX)}
DATA=$(mktemp -d /tmp/bench-reads-data-XXXXXX)
mkdir -p "$OUT"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; wait "$p" 2> /dev/null || true; done
    rm -rf "$DATA"
}
trap cleanup EXIT

"$BIN/hello-axum" "127.0.0.1:$HELLO_PORT" 2> "$OUT/hello.log" &
PIDS+=($!)
# Setup logs players in unmeasured (no auth quota); the per-player read quota
# is still checked on every request, but set far above what a run sends.
CROUPIER_HTTP__RATE_LIMITS__AUTH__LIMIT=0 CROUPIER_HTTP__RATE_LIMITS__DEFAULT__LIMIT=10000000 \
CROUPIER_METRICS_LISTEN=off "$BIN/croupier" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" \
    > "$OUT/serve.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$HELLO_PORT/livez"
wait_for "http://127.0.0.1:$PORT/readyz"

run() { # request port round
    "$BIN/croupier-bench" --url "http://127.0.0.1:$2" --request "$1" --mode max \
        --concurrency "$CONCURRENCY" --players "$PLAYERS" --duration "$DURATION" \
        > "$OUT/$1-$3.json" 2> "$OUT/$1-$3.log"
    echo "$1 round $3: $(jq .throughput_per_s "$OUT/$1-$3.json") requests/s" >&2
}
for round in $(seq "$ROUNDS"); do
    run hello "$HELLO_PORT" "$round"
    run wallets "$PORT" "$round"
    run me "$PORT" "$round"
done

jq -s --arg out "$OUT" '
  def best(r): map(select(.request == r)) | max_by(.throughput_per_s);
  def runs(r): map(select(.request == r) | {per_s: .throughput_per_s, p99_ms: .latency_ms.p99,
                                              failures: .failures});
  {hello: runs("hello"), wallets: runs("wallets"), me: runs("me"),
   wallets_vs_hello: ((best("wallets").throughput_per_s / best("hello").throughput_per_s) * 1000 | round / 1000),
   me_vs_hello: ((best("me").throughput_per_s / best("hello").throughput_per_s) * 1000 | round / 1000),
   results: $out}' "$OUT"/*-[0-9]*.json
