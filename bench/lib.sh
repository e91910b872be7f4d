# Shared by the bench scripts (sourced): ports, process CPU, medians. Uses $HOST and
# $SUT_PID set by the script.

wait_port() {  # wait_port PORT: until something listens on $HOST:PORT (10 s at most)
    local _
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

stop_sut() {
    kill "$SUT_PID" 2>/dev/null || true
    wait "$SUT_PID" 2>/dev/null || true
    SUT_PID=
}

# utime+stime in ticks of a process and its children.
cpu_ticks() {
    local total=0 pid f
    for pid in "$1" $(pgrep -P "$1" || true); do
        # The fields after "(comm) ": utime and stime are the 12th and 13th.
        f=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        read -ra f <<<"$f"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
