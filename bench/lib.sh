# Shared by the bench scripts (sourced, not run).

# wait_for URL: polls URL for up to 10 s until it answers 2xx, else exits.
wait_for() {
    for _ in $(seq 100); do curl -sf "$1" > /dev/null && return 0; sleep 0.1; done
    echo "not ready: $1 (see the server log in $OUT)" >&2
    exit 1
}

# note_load before|after: the 1-, 5- and 15-minute load averages, on stderr
# and in $OUT/conditions.txt (other work on the machine moves every figure).
note_load() {
    if [ "$1" = before ]; then
        echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" | tee "$OUT/conditions.txt" >&2
    else
        echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/conditions.txt" >&2
    fi
}
