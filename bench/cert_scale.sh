#!/usr/bin/env bash
# cert_scale: issue 19's figures, N certificates in tlsgate and in HAProxy in the same run.
#
#   bench/cert_scale.sh N [build/tlsgate]
#   KEEP=1 bench/cert_scale.sh 100000                       # keeps the certificates (and logs)
#   CERTS_DIR=/tmp/scale-100k bench/cert_scale.sh 100000    # generates once, reuses after
#   ONDEMAND_ONLY=1 bench/cert_scale.sh 1000000             # only the on-demand part
#   SKIP_HAPROXY=1 bench/cert_scale.sh 100000               # tlsgate only
#
# Certificates (bench/cert_scale_gen.py, python3-cryptography in GEN_PROCS processes, all
# cores by default): one CA; per name n<i>.scale.test (i = 0..N-1) an ECDSA P-256 key and a
# certificate with the name as CN and SAN, a random serial, signed by the CA, in one file
# certs/n<i>.scale.test.pem, the certificate then the key (PKCS#8); a second such file per
# name in spare/ (for the reload with all changed); and default.scale.test. They go to a
# temporary folder deleted at exit, or to CERTS_DIR (kept; names already there are reused,
# missing ones generated; the reloads below change some of its files).
# tlsgate gets ssl_multicert.config with one `ssl_cert_name=<file>` line per name and a
# `dest_ip=* ssl_cert_name=default.pem` line; HAProxy a crt-list of default.pem then the same
# files (`bind 127.0.0.1:PORT ssl crt-list LIST`, `mode tcp`, to a backend without servers:
# the client closes after its handshake, so none is ever needed).
#
# tlsgate: `threads: THREADS` (2), one listener, `routes: {default: 'builtin:inspect'}`,
# `ssl.cert_cache_size: CACHE` (N: warm means parsed, as HAProxy keeps every certificate).
# HAProxy (Debian's, HAPROXY=/usr/sbin/haproxy): master-worker mode (-W), `nbthread THREADS`.
# For each, in this order:
#   1. 1 certificate (only the default entry): started, RSS read when ready, stopped: the base.
#   2. N certificates: time from exec to ready, and CPU (utime+stime from /proc/<pid>/stat,
#      every thread, summed over the process and its children: HAProxy's master and worker).
#      tlsgate is ready at its `tlsgate: ready` line; HAProxy at the first handshake for n0
#      that gets n0's certificate (polled every 20 ms; its master parses the configuration
#      before it binds the port, so no handshake can succeed before the certificates are in).
#   3. RSS after load, once it has held still for 1 s: VmRSS summed over the process tree
#      (HAProxy: master + worker; its master re-executes itself in wait mode after forking
#      the worker, and shrinks). The two can share pages, so PSS (which splits shared pages
#      between the processes that map them) is shown too.
#      KiB per certificate = (that RSS - RSS with 1 certificate) / N.
#   4. Handshakes for random names (below), warm: every certificate loaded at startup.
#   5. 5 reloads: the 1st with one certificate changed (a random name's file rewritten with a
#      new key and certificate), the 2nd with all of them changed (before the signal, every
#      file of certs/ is traded for its spare/ one by renames: each name gets another key and
#      certificate; not timed), the 3rd to 5th one changed each. tlsgate:
#      SIGHUP; its figure is the `reload ok (N ms)` of its log, with the wall time from the
#      signal to that line. HAProxy: SIGUSR2 to the master, which re-executes itself, reads
#      all of the configuration and forks a new worker; its figure is the time from the
#      signal until a handshake for the changed name gets the new certificate (compared byte
#      for byte; handshakes every 20 ms from the master's `Loading success.` line on). The
#      same "signal to served" is measured for tlsgate too. HAProxy's old workers are let go
#      (hard-stop-after 30s) before the next reload. CPU of a reload: the process tree's
#      utime+stime from the signal to the new certificate served.
#   6. RSS after the 5 reloads, as in 3.
# Then, tlsgate only, on demand: ssl.multicert with only the default line and
#   ssl.cert_directory: {path: <certs/>, cache_size: 100000, negative_ttl: 60}
# (a file <name>.pem per name). Run only when `tlsgate --check` accepts that configuration;
# otherwise "skipped: on-demand not supported by this binary". Cold: each name asked for the
# first time (names drawn without replacement from a shuffled order); warm: the same names
# again. With ONDEMAND_ONLY=1 nothing else runs (no N-entry multicert, no HAProxy).
#
# Handshakes: bench/sni_client.cc (built here with g++ -O2; a bench tool, kept out of the
# CMake build) keeps CONCURRENCY (32) full TLS 1.3 handshakes in flight on CLIENT_THREADS (1)
# epoll loops: X25519, no session offered, SNI n<random>.scale.test uniform over 0..N-1, the
# leaf checked to be for the name asked (X509_check_host), then a reset; WARMUP (2) s, then
# DURATION (10) s measured (on demand: cold DURATION s, then warm DURATION s); then the same
# again with LATENCY_CONCURRENCY (1) in flight, for the latency without queueing (on demand:
# with names the first run did not ask). It prints handshakes/s and p50/p99 latency (connect
# to handshake done); the script adds the server's CPU per handshake over each phase.
# Client and server share the machine's cores: the server's µs per handshake is the figure to
# compare between runs, handshakes/s is also the client's.
#
# Prints the steps as they go and a markdown table at the end. Timings are never asserted.
# Fails (non-zero, "cert_scale: FAILED: ...") when a server does not start, a reload fails or
# is not served, or any handshake gets a certificate for another name.
# Environment: THREADS, CONCURRENCY, LATENCY_CONCURRENCY, CLIENT_THREADS, WARMUP, DURATION,
# SEED (1), GEN_PROCS, CERTS_DIR, KEEP, ONDEMAND_ONLY, HAPROXY. Packages: haproxy, python3-cryptography, g++,
# libssl-dev.
set -euo pipefail
N=${1:?usage: bench/cert_scale.sh N [build/tlsgate]}
BIN=$(realpath "${2:-build/tlsgate}")
HERE=$(cd "$(dirname "$0")" && pwd)
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
export HAPROXY
[[ -x $BIN ]] || { echo "cert_scale: no tlsgate binary at $BIN" >&2; exit 1; }
if [[ ${ONDEMAND_ONLY:-0} != 1 && ! -x $HAPROXY ]]; then
    echo "cert_scale: HAProxy is missing ($HAPROXY); scripts/install-deps.sh --bench" >&2
    exit 1
fi
WORK=$(mktemp -d /tmp/tlsgate-cert-scale.XXXXXX)
cleanup() {
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept: $WORK (certificates: ${CERTS_DIR:-$WORK/pki})"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

g++ -O2 -std=c++20 "$HERE/sni_client.cc" -o "$WORK/sni_client" -lssl -lcrypto -pthread
haproxy_version=$("$HAPROXY" -v 2>/dev/null | head -1 || true)
echo "tlsgate $(sha256sum "$BIN" | cut -c1-12) ($BIN), $haproxy_version"
echo "N=$N, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$HERE/cert_scale.py" "$N" "$BIN" "$WORK" "$WORK/sni_client"
