#!/usr/bin/env bash
# A local Croupier cluster on loopback: 3 api instances and 1 worker behind
# HAProxy, sharing PostgreSQL, Redis and NATS JetStream.
#
#   deploy/local/cluster.sh start    # build (if needed), migrate, start, wait until ready
#   deploy/local/cluster.sh status   # what runs, and HAProxy's view of the instances
#   deploy/local/cluster.sh stop     # stop everything this script started
#   deploy/local/cluster.sh restart NAME  # api1|api2|api3|worker: SIGTERM, wait for the exit
#                                    # (or start it if it is not running), start again, wait
#                                    # until ready and, for an api instance, until HAProxy
#                                    # sees it UP
#
# Knobs (environment):
#   CROUPIER_DATABASE_URL  postgres://postgres@127.0.0.1:5432/croupier (created if missing)
#   CROUPIER_REDIS_URL     redis://127.0.0.1:6379
#   CROUPIER_NATS_URL      nats://127.0.0.1:4222
#   CLUSTER_LB_PORT       8080: HAProxy, the one address clients use
#   CLUSTER_BASE_PORT     8081: api instances on BASE..BASE+2, the worker on BASE+3,
#                          HAProxy's stats page on BASE+4; each instance's /metrics
#                          (metrics_listen) on its port + 5, so BASE+5..BASE+8
#   CLUSTER_BIN           the croupier binary (default: target/release/croupier, built if missing)
#   CLUSTER_DIR   pids and logs (default: target/local-cluster)
#   CROUPIER_SHUTDOWN_DRAIN_SECS  2: on SIGTERM an instance answers /readyz 503 this long
#                          while still serving, above HAProxy's check interval × fall
#                          (0.5 s × 2), so HAProxy stops sending before the listener closes
# Any other CROUPIER_* variable passes through to every instance (see `croupier config`).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
state=${CLUSTER_DIR:-$target/local-cluster}
bin=${CLUSTER_BIN:-$target/release/croupier}
lb_port=${CLUSTER_LB_PORT:-8080}
base=${CLUSTER_BASE_PORT:-8081}
export CROUPIER_DATABASE_URL=${CROUPIER_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/croupier}
export CROUPIER_REDIS_URL=${CROUPIER_REDIS_URL:-redis://127.0.0.1:6379}
export CROUPIER_NATS_URL=${CROUPIER_NATS_URL:-nats://127.0.0.1:4222}
export CROUPIER_LOG__FORMAT=${CROUPIER_LOG__FORMAT:-json}
export CROUPIER_SHUTDOWN_DRAIN_SECS=${CROUPIER_SHUTDOWN_DRAIN_SECS:-2}

# name  roles             port
instances=(
  "api1   api,relay  $base"
  "api2   api,relay  $((base + 1))"
  "api3   api,relay  $((base + 2))"
  "worker worker     $((base + 3))"
)

die() { echo "cluster: $*" >&2; exit 1; }

# die, with the last lines of an instance's log: what it said before it failed.
die_log() { # name message
  local log="$state/$1.log"
  echo "cluster: $2; the end of $log:" >&2
  tail -n 20 "$log" >&2 2>/dev/null || true
  exit 1
}

# Whether a pid runs; a zombie (killed, not yet reaped by whoever adopted it) does not.
running() {
  local stat state
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  state=${stat##*) }
  [ "${state%% *}" != Z ]
}

alive() { [ -f "$state/$1.pid" ] && running "$(cat "$state/$1.pid")"; }

# The instance line (name roles port) of NAME.
instance() {
  local i
  for i in "${instances[@]}"; do
    case "$i" in "$1 "*) echo "$i"; return 0 ;; esac
  done
  return 1
}

launch() { # name roles port
  CROUPIER_METRICS_LISTEN="127.0.0.1:$(($3 + 5))" \
    "$bin" serve --listen "127.0.0.1:$3" --roles "$2" >>"$state/$1.log" 2>&1 &
  echo $! >"$state/$1.pid"
}

# HAProxy's view of server NAME in backend api (UP, DOWN, MAINT, …).
lb_status() {
  curl -fsS --max-time 1 "http://127.0.0.1:$((base + 4))/;csv" 2>/dev/null \
    | awk -F, -v s="$1" '$1 == "api" && $2 == s { print $18 }'
}

wait_ready() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fs -o /dev/null --max-time 1 "$1"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

ensure_database() {
  # Create the database named in the URL if it does not exist yet.
  local url=$CROUPIER_DATABASE_URL name admin
  name=${url##*/}; name=${name%%\?*}
  admin=${url%/*}/postgres
  if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    psql "$admin" -qc "CREATE DATABASE \"$name\"" >/dev/null
  fi
}

start() {
  command -v haproxy >/dev/null || die "haproxy is not installed (apt-get install haproxy)"
  for i in "${instances[@]}" "haproxy x x"; do
    set -- $i
    alive "$1" && die "$1 is already running (cluster.sh stop first)"
  done
  if [ ! -x "$bin" ]; then
    echo "cluster: building $bin"
    (cd "$root" && cargo build --release -p croupier)
  fi
  mkdir -p "$state"
  ensure_database
  "$bin" migrate >"$state/migrate.log" 2>&1 || die "migration failed: $(tail -n5 "$state/migrate.log")"

  for i in "${instances[@]}"; do
    set -- $i
    : >"$state/$1.log"
    launch "$1" "$2" "$3"
  done
  for i in "${instances[@]}"; do
    set -- $i
    wait_ready "http://127.0.0.1:$3/readyz" 30 || die_log "$1" "$1 did not become ready"
  done

  CROUPIER_LB_BIND="127.0.0.1:$lb_port" \
  CROUPIER_API1="127.0.0.1:$base" CROUPIER_API2="127.0.0.1:$((base + 1))" \
  CROUPIER_API3="127.0.0.1:$((base + 2))" CROUPIER_LB_STATS="127.0.0.1:$((base + 4))" \
    haproxy -db -f "$here/haproxy.cfg" >"$state/haproxy.log" 2>&1 &
  echo $! >"$state/haproxy.pid"
  wait_ready "http://127.0.0.1:$lb_port/readyz" 15 || die_log haproxy "HAProxy did not become ready"
  echo "cluster: up at http://127.0.0.1:$lb_port (stats http://127.0.0.1:$((base + 4))/, logs in $state)"
}

stop() {
  local pids=() name pid
  for f in "$state"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    running "$pid" && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  # Instances drain in-flight requests on SIGTERM; give them a moment.
  for _ in $(seq 1 100); do
    local left=0
    for pid in "${pids[@]}"; do running "$pid" && left=1; done
    [ $left -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$state"/*.pid
  echo "cluster: stopped"
}

restart() { # name
  local line name roles port pid deadline
  line=$(instance "${1:-}") || die "restart: no instance named '${1:-}' (api1, api2, api3, worker)"
  set -- $line; name=$1; roles=$2; port=$3
  if alive "$name"; then
    pid=$(cat "$state/$name.pid")
    kill -TERM "$pid"
    # Drain, then in-flight requests within the grace period (30 s by default).
    deadline=$((SECONDS + ${CROUPIER_SHUTDOWN_DRAIN_SECS:-0} + ${CROUPIER_SHUTDOWN_GRACE_SECS:-30} + 5))
    while running "$pid"; do
      [ $SECONDS -lt $deadline ] || { kill -KILL "$pid" 2>/dev/null || true; break; }
      sleep 0.05
    done
  fi
  launch "$name" "$roles" "$port"
  wait_ready "http://127.0.0.1:$port/readyz" 30 || die_log "$name" "$name did not become ready"
  if [ "$roles" != worker ] && alive haproxy; then
    deadline=$((SECONDS + 15))
    until [ "$(lb_status "$name")" = UP ]; do
      [ $SECONDS -lt $deadline ] || die "HAProxy does not see $name UP"
      sleep 0.1
    done
  fi
  echo "cluster: $name restarted (pid $(cat "$state/$name.pid"))"
}

status() {
  for i in "${instances[@]}" "haproxy x $lb_port"; do
    set -- $i
    if alive "$1"; then echo "$1: running (pid $(cat "$state/$1.pid"), port $3)"; else echo "$1: stopped"; fi
  done
  curl -fsS --max-time 1 "http://127.0.0.1:$((base + 4))/;csv" 2>/dev/null \
    | awk -F, '$1 == "api" && $2 != "BACKEND" { print "  haproxy sees " $2 ": " $18 }' || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) restart "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|restart NAME" >&2; exit 2 ;;
esac
