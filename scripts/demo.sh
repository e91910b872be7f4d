#!/usr/bin/env bash
# Installs what tlsgate needs, builds it, and runs it on the built-in demo configuration:
# TLS on 127.0.0.1:8443 with certificates generated on first run (a demo CA, an RSA and an
# ECDSA certificate for localhost), answered by the built-in `inspect` endpoint, which
# replies to every request with what was negotiated.
#
#   scripts/demo.sh             run in the foreground (Ctrl-C stops it)
#   scripts/demo.sh --self-test run, make one request with curl, stop
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
demo=$top/demo
port=${TLSGATE_DEMO_PORT:-8443}
admin_port=${TLSGATE_DEMO_ADMIN_PORT:-9090}

scripts/install-deps.sh
echo "== building tlsgate (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target tlsgate >/dev/null

scripts/demo-config.sh "$demo" "$port" "$admin_port"

try="curl --cacert $demo/ca.crt https://localhost:$port/"
if [[ ${1:-} == --self-test ]]; then
    build/tlsgate -c "$demo/tlsgate.yaml" &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    echo "\$ $try"
    $try
    echo "\$ curl -s http://127.0.0.1:$admin_port/health"
    curl -sf "http://127.0.0.1:$admin_port/health"
    echo
    curl -sf "http://127.0.0.1:$admin_port/metrics" | grep '^tlsgate_ssl_total_success_handshake_count_in_total'
    kill -TERM $pid
    wait $pid
    trap - EXIT
    echo "== demo self-test passed"
    exit 0
fi
echo
echo "tlsgate demo: try, in another terminal:"
echo "    $try"
echo "metrics, health, certificates:  curl http://127.0.0.1:$admin_port/metrics  (/health, /certs, /stats)"
echo "access log: $demo/access.log;  reload: kill -HUP <pid> or curl -X POST http://127.0.0.1:$admin_port/reload"
echo
exec build/tlsgate -c "$demo/tlsgate.yaml"
