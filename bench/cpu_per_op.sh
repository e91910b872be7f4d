#!/usr/bin/env bash
# Server CPU per operation for one tlsgate binary, quickly: full handshakes (RSA and ECDSA,
# TLS 1.3, h2load one request per connection) and relayed keep-alive requests, with tlsgate
# pinned to CPU 0 (one worker) and clients plus a plain-HTTP nginx origin on CPU 1.
# CPU time is utime+stime from /proc/<pid>/stat around each client run.
#
#   bench/cpu_per_op.sh [build/tlsgate]        N=3000 KA=100000 by default
# For the side-by-side comparison with nginx and HAProxy use ../shared/bench/run.sh.
set -euo pipefail
BIN=${1:-build/tlsgate}
N=${N:-3000}
KA=${KA:-100000}
BIN=$(realpath "$BIN")
TMP=$(mktemp -d /tmp/tlsgate-bench.XXXXXX)
ORIGIN_PORT=${ORIGIN_PORT:-28080} RSA_PORT=${RSA_PORT:-28443} ECDSA_PORT=${ECDSA_PORT:-28444}
cleanup() { kill "${GW:-}" "${ORIGIN:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

cd "$TMP"
openssl req -x509 -nodes -days 3 -subj /CN=bench.test -newkey rsa:2048 -keyout rsa.key -out rsa.crt 2>/dev/null
openssl req -x509 -nodes -days 3 -subj /CN=bench.test -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout ec.key -out ec.crt 2>/dev/null
mkdir www
cat >nginx.conf <<CONF
daemon off; worker_processes 1; pid $TMP/nginx.pid; error_log $TMP/nginx.err warn;
events { worker_connections 16000; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$ORIGIN_PORT backlog=4096;
           location = / { default_type text/plain; return 200 "ok\n"; } } }
CONF
taskset -c 1 nginx -c "$TMP/nginx.conf" &
ORIGIN=$!
cat >ssl_multicert.config <<CONF
dest_ip=127.0.0.1:$ECDSA_PORT ssl_cert_name=ec.crt ssl_key_name=ec.key
dest_ip=* ssl_cert_name=rsa.crt ssl_key_name=rsa.key
CONF
cat >tlsgate.yaml <<CONF
threads: 1
listeners: [{listen: 127.0.0.1:$RSA_PORT}, {listen: 127.0.0.1:$ECDSA_PORT}]
ssl: {multicert: ssl_multicert.config}
routes: {default: 127.0.0.1:$ORIGIN_PORT}
CONF
taskset -c 0 "$BIN" -c tlsgate.yaml 2>gw.log &
GW=$!
for _ in $(seq 50); do grep -q 'tlsgate: ready' gw.log 2>/dev/null && break; sleep 0.1; done

cpu() { awk '{print $14 + $15}' "/proc/$GW/stat"; }  # clock ticks
faults() { awk '{print $10}' "/proc/$GW/stat"; }     # minor page faults
hz=$(getconf CLK_TCK)
measure() {  # measure LABEL OPS UNIT CMD...
    local label=$1 ops=$2; shift 2
    local before after f0 f1
    before=$(cpu) f0=$(faults)
    taskset -c 1 "$@" >"$TMP/out" 2>&1 || { cat "$TMP/out"; exit 1; }
    after=$(cpu) f1=$(faults)
    grep -q "$ops succeeded" "$TMP/out" || { echo "$label: not all succeeded"; grep requests: "$TMP/out"; exit 1; }
    awk -v l="$label" -v t=$((after - before)) -v hz="$hz" -v n="$ops" -v f=$((f1 - f0)) \
        'BEGIN { printf "%-28s %8.1f us CPU/op  %6.2f page faults/op  (%d ops)\n", l, t / hz * 1e6 / n, f / n, n }'
}
h2="h2load --h1"
# Warm-up at full concurrency, as the shared harness does: the heap grows once, here.
$h2 -c "$N" -n "$N" "https://127.0.0.1:$RSA_PORT/" >/dev/null 2>&1
$h2 -c "$N" -n "$N" "https://127.0.0.1:$ECDSA_PORT/" >/dev/null 2>&1
measure "handshake RSA TLS1.3" "$N" $h2 -c "$N" -n "$N" "https://127.0.0.1:$RSA_PORT/"
measure "handshake ECDSA TLS1.3" "$N" $h2 -c "$N" -n "$N" "https://127.0.0.1:$ECDSA_PORT/"
measure "keep-alive request c=50" "$KA" $h2 -c 50 -n "$KA" "https://127.0.0.1:$RSA_PORT/"
