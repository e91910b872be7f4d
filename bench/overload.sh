#!/usr/bin/env bash
# A handshake flood next to legitimate traffic: tlsgate, nginx stream and HAProxy mode tcp,
# each with its per-source limits, one after the other in one run (issue 17).
#
#   bench/overload.sh [--quick] [SUT ...]     (default SUTs: tlsgate nginx-stream haproxy-tcp)
#
# Each system terminates TLS (RSA-2048, one worker, pinned to SUT_CPU) and relays to a plain
# HTTP nginx origin; the origin and the load generator (bench/overload_client.cc, compiled
# here) share LOAD_CPU. Per system, at the same absolute rates for all:
#   attack  sources 127.0.0.2-9, ATTACK_FACTOR x the core's full-handshake capacity, open
#           loop; every other attempt of a source sends its ClientHello and closes, the rest
#           complete a full handshake (no session) and close;
#   legit   LEGIT_CLIENTS sources from 127.0.1.1, LEGIT_SHARE of the core: each session
#           resumes the client's TLS 1.3 ticket, makes REQUESTS keep-alive GETs through the
#           system to the origin, closes; success = all of it within LEGIT_TIMEOUT_MS.
# Capacity and the cost of a legit session are measured first on the first system WITHOUT
# its limits (closed loop; the system's CPU time per operation), unless CAPACITY and
# SESSION_US are given. Per system: warm-up (1 s of full handshakes, WARMUP s of legit
# traffic), then DURATION s of both; SUT CPU = utime+stime of its process tree over those
# seconds; RSS = the peak of its tree's VmRSS, sampled every 0.2 s.
# Prints a markdown table and writes RESULTS_DIR/overload-<UTC date>.json.
#
# Environment: DURATION (20; --quick 8), WARMUP (2), ATTACK_FACTOR (3), LEGIT_SHARE (0.2),
# LEGIT_CLIENTS (100), REQUESTS (5), LEGIT_TIMEOUT_MS (1000), ATTACK_TIMEOUT_MS (2000),
# CAPACITY (full handshakes/s) and SESSION_US (µs per legit session) skip the calibration,
# PER_SOURCE_RATE (20 new connections/s per source: haproxy-tcp, tlsgate) and PER_SOURCE_CONN
# (1 in progress per source: nginx-stream's limit_conn, haproxy-tcp's conn_cur, tlsgate's
# per_source_handshakes), TLSGATE_BIN (build/tlsgate), OVERLOAD_TLSGATE_ADMISSION (1; 0 runs
# tlsgate without its admission section), OVERLOAD_TLSGATE_ADMISSION_FILE (a file whose
# admission: section replaces ours), SUT_CPU (0), LOAD_CPU (1), BASE_PORT
# (18600: origin, +1 the system, +2 tlsgate's admin endpoint), PRIORITY (1: nice levels, see below), KEEP=1 keeps the
# scratch directory. Run as root.
set -euo pipefail
if [[ ${PRIORITY:-1} == 1 && -z ${OVERLOAD_SESSION:-} ]]; then  # see "Priorities" below
    exec env OVERLOAD_SESSION=1 setsid --wait "$0" "$@"
fi
BENCH=$(cd "$(dirname "$0")" && pwd)
QUICK=0
if [[ ${1:-} == --quick ]]; then QUICK=1; shift; fi
SUTS=("$@")
((${#SUTS[@]})) || SUTS=(tlsgate nginx-stream haproxy-tcp)
: "${DURATION:=$( ((QUICK)) && echo 8 || echo 20)}" "${WARMUP:=2}" "${ATTACK_FACTOR:=3}"
: "${LEGIT_SHARE:=0.2}" "${LEGIT_CLIENTS:=100}" "${REQUESTS:=5}" "${LEGIT_TIMEOUT_MS:=1000}"
: "${ATTACK_TIMEOUT_MS:=2000}" "${PER_SOURCE_RATE:=20}" "${PER_SOURCE_CONN:=1}" "${OVERLOAD_TLSGATE_ADMISSION:=1}"
: "${SUT_CPU:=0}" "${LOAD_CPU:=1}" "${BASE_PORT:=18600}" "${CAPACITY:=}" "${SESSION_US:=}"
TLSGATE_BIN=$(realpath "${TLSGATE_BIN:-build/tlsgate}")
HOST=127.0.0.1 ORIGIN_PORT=$BASE_PORT PORT=$((BASE_PORT + 1)) ADMIN_PORT=$((BASE_PORT + 2))
# Priorities: the legitimate clients and the origin outrank the attacker on the load core, so
# that their latency is the system's and not the load generator's (nice levels). And the
# whole run outranks whatever else runs on this shared machine: with autogroups (the
# default), CPU time is shared between sessions first and nice levels count only inside a
# session, so the script reruns itself in a session of its own and lowers that session's
# nice value. PRIORITY=0: none of this.
: "${PRIORITY:=1}"
NICE_SUT=0 NICE_LEGIT=0 NICE_ATTACK=0
if ((PRIORITY)); then
    echo -15 >/proc/self/autogroup 2>/dev/null || true
    NICE_SUT=-10 NICE_LEGIT=-15 NICE_ATTACK=-5
fi
PY=/usr/bin/python3
REPORT="$PY $BENCH/overload_report.py"
DATE=$(date -u +%Y%m%d-%H%M%S)
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for p in "$ORIGIN_PORT" "$PORT" "$ADMIN_PORT"; do
    [[ -z $(ss -Hltn "sport = :$p") ]] || die "port $p is in use; set BASE_PORT (3 ports from it)"
done
((EUID == 0)) || die "run as root (fd limits, source addresses, other users' processes)"
for s in "${SUTS[@]}"; do
    [[ $s =~ ^(tlsgate|nginx-stream|haproxy-tcp)$ ]] || die "unknown system $s"
done
[[ " ${SUTS[*]} " != *" tlsgate "* || -x $TLSGATE_BIN ]] || die "no tlsgate at $TLSGATE_BIN"
ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/overload.XXXXXX)
chmod 755 "$WORK"  # nginx workers run as nobody
SUT_PID='' ORIGIN_PID=''
cleanup() {
    [[ -z $SUT_PID ]] || stop_sut
    [[ -z $ORIGIN_PID ]] || { kill "$ORIGIN_PID" 2>/dev/null; wait "$ORIGIN_PID" 2>/dev/null; } || true
    if [[ ${KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
taskset -cp "$LOAD_CPU" $$ >/dev/null  # this script and all it spawns, except the systems
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

# --- the load generator, certificate, origin -------------------------------------------
log "compiling the load generator"
g++ -O2 -std=c++20 "$BENCH/overload_client.cc" -o "$WORK/client" -lssl -lcrypto
openssl req -x509 -nodes -days 2 -subj /CN=bench.test -newkey rsa:2048 \
    -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" \
    -keyout "$WORK/rsa.key" -out "$WORK/rsa.crt" 2>/dev/null
cat "$WORK/rsa.crt" "$WORK/rsa.key" >"$WORK/rsa.pem"

mkdir -p "$WORK/origin"
cat >"$WORK/origin/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/origin/nginx.pid;
error_log $WORK/origin/error.log warn;
events { worker_connections 16000; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen $HOST:$ORIGIN_PORT backlog=4096;
        location = / { default_type text/plain; return 200 "ok\n"; }
    }
}
EOF
nice -n "$NICE_LEGIT" nginx -c "$WORK/origin/nginx.conf" >"$WORK/origin/stdout.log" 2>&1 &
ORIGIN_PID=$!
wait_port "$ORIGIN_PORT" || die "the origin did not start: $(cat "$WORK/origin/"*.log)"

# shellcheck source=bench/overload_suts.sh
. "$BENCH/overload_suts.sh"
if [[ " ${SUTS[*]} " == *" tlsgate "* ]]; then  # fail now, not after the calibration
    mkdir -p "$WORK/tlsgate"
    echo "dest_ip=* ssl_cert_name=$WORK/rsa.crt ssl_key_name=$WORK/rsa.key" \
        >"$WORK/tlsgate/ssl_multicert.config"
    tlsgate_config 1 >"$WORK/tlsgate/check.yaml"
    "$TLSGATE_BIN" -c "$WORK/tlsgate/check.yaml" --check >/dev/null 2>&1 ||
        die "tlsgate rejects its admission section ($("$TLSGATE_BIN" -c "$WORK/tlsgate/check.yaml" --check 2>&1 | head -2));" \
            "OVERLOAD_TLSGATE_ADMISSION=0 runs it without the section"
fi

# --- calibration: the first system without its limits ----------------------------------
client() { nice -n "$NICE_ATTACK" "$WORK/client" "$@" --host "$HOST" --port "$PORT"; }
sut_ticks() { cpu_ticks "$SUT_PID"; }
calibrate() {
    local first=${SUTS[0]} t0 t1 out done_
    start_sut "$first" 0 || die "$first did not start: $(tail -3 "$WORK/$first/log")"
    client attack --concurrency 16 --abandon-every 0 --duration 1 >/dev/null  # warm-up
    if [[ -z $CAPACITY ]]; then
        t0=$(sut_ticks)
        out=$(client attack --concurrency 32 --abandon-every 0 --duration 4)
        t1=$(sut_ticks)
        done_=$($REPORT field "$out" measured.done)
        CAPACITY=$($PY -c "print(round($done_ * $TICKS / ($t1 - $t0)))")
        log "calibration on $first: $done_ full handshakes, $((t1 - t0)) ticks of its CPU" \
            "-> $CAPACITY handshakes/s per core"
    fi
    if [[ -z $SESSION_US ]]; then
        t0=$(sut_ticks)
        out=$(client legit --concurrency 8 --duration 3 --source 127.0.1.1 \
            --sources "$LEGIT_CLIENTS" --requests "$REQUESTS" --timeout-ms 5000)
        t1=$(sut_ticks)
        done_=$($REPORT field "$out" measured.done)
        SESSION_US=$($PY -c "print(round(($t1 - $t0) * 1e6 / $TICKS / $done_))")
        log "calibration on $first: $done_ legit sessions, $((t1 - t0)) ticks -> $SESSION_US µs each"
    fi
    stop_sut
}
TICKS=$(getconf CLK_TCK)
calibrate
ATTACK_RATE=$($PY -c "print(round($ATTACK_FACTOR * $CAPACITY))")
LEGIT_RATE=$($PY -c "print(round($LEGIT_SHARE * 1e6 / $SESSION_US))")
log "attack: $ATTACK_RATE attempts/s (${ATTACK_FACTOR} x $CAPACITY); legit: $LEGIT_RATE sessions/s" \
    "(${LEGIT_SHARE} of a core at $SESSION_US µs per resumed session + $REQUESTS requests)"

# --- one system under the flood -------------------------------------------------------
run_one() {  # run_one SUT → $WORK/SUT/result.json
    local s=$1 dir=$WORK/$1 start_ms end_ms
    start_sut "$s" 1 || { log "$s did not start: $(tail -3 "$dir/log")"; return 1; }
    client attack --concurrency 16 --abandon-every 0 --duration 1 >/dev/null  # warm-up
    [[ $s != tlsgate ]] || tlsgate_stats >"$dir/stats-before.json"
    start_ms=$(($(date +%s%3N) + 1500 + WARMUP * 1000))  # after priming and warm-up
    end_ms=$((start_ms + DURATION * 1000))
    nice -n "$NICE_LEGIT" "$WORK/client" legit --host "$HOST" --port "$PORT" --rate "$LEGIT_RATE" \
        --duration "$DURATION" --warmup "$WARMUP" --start-at "$start_ms" --source 127.0.1.1 \
        --sources "$LEGIT_CLIENTS" --requests "$REQUESTS" --timeout-ms "$LEGIT_TIMEOUT_MS" \
        >"$dir/legit.json" &
    local legit=$!
    # The flood outlasts the legitimate window by a second: sessions begun at its end meet it too.
    nice -n "$NICE_ATTACK" "$WORK/client" attack --host "$HOST" --port "$PORT" --rate "$ATTACK_RATE" \
        --duration "$((DURATION + 1))" --start-at "$start_ms" --source 127.0.0.2 --sources 8 \
        --timeout-ms "$ATTACK_TIMEOUT_MS" >"$dir/attack.json" &
    local attack=$!
    # The sample ends a little early: the legitimate clients exit right after end_ms.
    $REPORT sample --pid "$SUT_PID" --load-pids "$legit,$attack,$ORIGIN_PID" --from-ms "$start_ms" \
        --to-ms "$((end_ms - 200))" --sut-cpu "$SUT_CPU" --load-cpu "$LOAD_CPU" >"$dir/sample.json"
    wait "$legit" "$attack"
    [[ $s != tlsgate ]] || tlsgate_stats >"$dir/stats-after.json"
    stop_sut
    $REPORT combine --sut "$s" --limits "$(limits_text "$s")" --dir "$dir" >"$dir/result.json"
}

RESULTS=()
for s in "${SUTS[@]}"; do
    log "== $s: ${DURATION}s of flood"
    if run_one "$s"; then RESULTS+=("$WORK/$s/result.json"); else log "$s: no result (see $WORK/$s)"; fi
done
: "${RESULTS_DIR:=$BENCH/results}"
mkdir -p "$RESULTS_DIR"
OUT=$RESULTS_DIR/overload-$DATE.json
$REPORT table --out "$OUT" --date "$DATE" --capacity "$CAPACITY" --session-us "$SESSION_US" \
    --attack-rate "$ATTACK_RATE" --legit-rate "$LEGIT_RATE" --duration "$DURATION" \
    --legit-clients "$LEGIT_CLIENTS" --requests "$REQUESTS" --legit-timeout-ms "$LEGIT_TIMEOUT_MS" \
    --attack-timeout-ms "$ATTACK_TIMEOUT_MS" "${RESULTS[@]}"
echo -e "\nresults: $OUT"
