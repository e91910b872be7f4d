#!/usr/bin/env bash
# Server CPU per handshake, full next to resumed (session tickets), for tlsgate and for
# nginx with `ssl_session_tickets on`.
#
#   bench/resumption.sh [path/to/tlsgate]      (default: build/tlsgate)
#
# The load, on LOAD_CPU: `openssl s_time -www / -time T`, one connection after another, each
# one `GET /` read to EOF; `-new` makes every handshake a full one, `-reuse` offers the
# session of the first connection on every later one (a ticket: neither server has a session
# ID cache). The system under test is pinned to SUT_CPU, one worker; its utime+stime
# (/proc/<pid>/stat, with children: nginx's worker) over the run, divided by the connections
# s_time completed, is the "µs CPU/conn" column. Both serve the same ECDSA P-256 certificate
# and answer a small 200 themselves (tlsgate: builtin:inspect; nginx: `return 200`). TLS 1.2
# uses ECDHE-ECDSA-AES128-GCM-SHA256, TLS 1.3 TLS_AES_128_GCM_SHA256, both X25519.
# "resumed" is tlsgate's ssl_ticket_verified over its handshakes, counted by tlsgate itself
# (not measured for nginx).
#
# Environment: T (5) seconds per run, REPS (3, median), SUT_CPU (0), LOAD_CPU (1),
# BASE_PORT (18520), VERSIONS ("tls1_2 tls1_3"). Packages: scripts/install-deps.sh --bench.
set -euo pipefail

TLSGATE_BIN=$(realpath "${1:-build/tlsgate}")
: "${T:=5}" "${REPS:=3}" "${SUT_CPU:=0}" "${LOAD_CPU:=1}" "${BASE_PORT:=18520}"
: "${VERSIONS:=tls1_2 tls1_3}"
HOST=127.0.0.1
PORT=$BASE_PORT
TICKS=$(getconf CLK_TCK)
SUT_PID=
. "$(dirname "$0")/lib.sh"

DIR=$(mktemp -d)
trap 'stop_sut; rm -rf "$DIR"' EXIT
cd "$DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem \
    -out cert.pem -subj /CN=bench.test -days 2 2>/dev/null

cat >tlsgate.yaml <<YAML
threads: 1
listeners:
  - listen: $HOST:$PORT
ssl:
  multicert: ssl_multicert.config
  groups: X25519
routes:
  default: builtin:inspect
YAML
echo "dest_ip=* ssl_cert_name=cert.pem ssl_key_name=key.pem" >ssl_multicert.config

mkdir -p nginx
cat >nginx/nginx.conf <<CONF
worker_processes 1;
daemon off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen $HOST:$PORT ssl;
        ssl_certificate $DIR/cert.pem;
        ssl_certificate_key $DIR/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
        ssl_ecdh_curve X25519;
        ssl_session_tickets on;
        ssl_session_cache off;
        keepalive_timeout 0;
        location / { return 200 "ok\n"; }
    }
}
CONF

start_sut() {  # start_sut tlsgate|nginx
    if [[ $1 == tlsgate ]]; then
        taskset -c "$SUT_CPU" "$TLSGATE_BIN" -c tlsgate.yaml 2>tlsgate.log &
    else
        taskset -c "$SUT_CPU" /usr/sbin/nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" 2>/dev/null &
    fi
    SUT_PID=$!
    wait_port "$PORT"
}

tlsgate_stat() {  # tlsgate_stat NAME: the counter from a fresh SIGUSR1 stats line
    local before
    before=$(grep -c "stats {" tlsgate.log || true)
    kill -USR1 "$SUT_PID"
    for _ in $(seq 50); do
        (($(grep -c "stats {" tlsgate.log || true) > before)) && break
        sleep 0.1
    done
    grep "stats {" tlsgate.log | tail -1 | grep -o "\"$1\": [0-9]*" | grep -o '[0-9]*$'
}

run() {  # run SUT VERSION MODE → "µs/conn resumed%"
    start_sut "$1"
    local cipher=(-cipher ECDHE-ECDSA-AES128-GCM-SHA256)
    [[ $2 == tls1_3 ]] && cipher=(-ciphersuites TLS_AES_128_GCM_SHA256)
    taskset -c "$LOAD_CPU" openssl s_time -connect "$HOST:$PORT" -"$2" "${cipher[@]}" -www / \
        -"$3" -time 1 >/dev/null 2>&1 || true  # warm-up
    local t0 t1 out conns resumed="-"
    t0=$(cpu_ticks "$SUT_PID")
    out=$(taskset -c "$LOAD_CPU" openssl s_time -connect "$HOST:$PORT" -"$2" "${cipher[@]}" \
        -www / -"$3" -time "$T" 2>&1)
    t1=$(cpu_ticks "$SUT_PID")
    conns=$(grep -o '^[0-9]* connections in [0-9.]* real' <<<"$out" | tail -1 | cut -d' ' -f1)
    if [[ $1 == tlsgate ]]; then
        local verified handshakes
        verified=$(tlsgate_stat ssl_ticket_verified)
        handshakes=$(tlsgate_stat ssl_total_success_handshake_count_in)
        resumed=$((100 * verified / handshakes))%
    fi
    stop_sut
    echo "$(((t1 - t0) * 1000000 / TICKS / conns)) $resumed $conns"
}

printf '%-8s %-7s %-6s %14s %9s %8s\n' system version mode "µs CPU/conn" resumed conns
for v in $VERSIONS; do
    for sut in tlsgate nginx; do
        for mode in new reuse; do
            us=() res=- n=0
            for _ in $(seq "$REPS"); do
                read -r u res n < <(run "$sut" "$v" "$mode")
                us+=("$u")
            done
            printf '%-8s %-7s %-6s %14s %9s %8s\n' "$sut" "$v" "$mode" \
                "$(printf '%s\n' "${us[@]}" | median)" "$res" "$n"
        done
    done
done
