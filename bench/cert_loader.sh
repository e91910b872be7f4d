#!/usr/bin/env bash
# cert_loader: handshakes per second and tlsgate CPU per handshake when every connection asks
# for its own certificate, loaded on demand from a folder of N PEM files.
#
#   bench/cert_loader.sh [build/tlsgate]      N=2000 certificates by default
#
# Environment: N (certificates, default 2000), CLIENTS (concurrent connections, default 100),
# LOADER_THREADS (cert_loader --threads, default 2), PORT (default 28543), PLUGIN_DIR
# (default <folder of the binary>/plugins), TASKSET (e.g. "taskset -c 0" to pin tlsgate).
#
# tlsgate runs with one worker thread and the builtin:inspect route. The driver (Python ssl,
# two processes of CLIENTS/2 threads) opens TLS connections with the SNI cycling through the
# N names, completes the handshake and closes. Three passes:
#   cold      every name once, nothing cached: each handshake waits for a file to be read and
#             parsed on a cert_loader thread;
#   warm      the same names again, all cached (--cache is N): served inline;
#   no-sni    the same count without SNI: tlsgate's own certificate, the plugin lets it pass.
# For each: handshakes/s (wall clock of the pass) and tlsgate's CPU (utime+stime of all its
# threads, from /proc/<pid>/stat) per handshake, the loader threads' share shown apart.
# Certificates share one EC P-256 key and are signed with Python's `cryptography` (seconds
# for thousands; one `openssl x509 -req` per certificate would take minutes).
set -euo pipefail
BIN=$(realpath "${1:-build/tlsgate}")
N=${N:-2000}
CLIENTS=${CLIENTS:-100}
LOADER_THREADS=${LOADER_THREADS:-2}
PORT=${PORT:-28543}
PLUGIN_DIR=${PLUGIN_DIR:-$(dirname "$BIN")/plugins}
PY=${PY:-/usr/bin/python3}
TMP=$(mktemp -d /tmp/tlsgate-cert-loader-bench.XXXXXX)
cleanup() { kill "${GW:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

cd "$TMP"
ec=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
openssl genpkey "${ec[@]}" -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=bench CA" -days 3 -out ca.crt 2>/dev/null
openssl genpkey "${ec[@]}" -out leaf.key 2>/dev/null
openssl req -x509 -nodes -days 3 -subj /CN=default.bench -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout default.key -out default.crt 2>/dev/null
mkdir certs
start=$(date +%s.%N)
"$PY" - "$N" <<'PY'
import datetime, sys
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
n = int(sys.argv[1])
ca_key = serialization.load_pem_private_key(Path("ca.key").read_bytes(), None)
ca = x509.load_pem_x509_certificate(Path("ca.crt").read_bytes())
key_pem = Path("leaf.key").read_bytes()
pub = serialization.load_pem_private_key(key_pem, None).public_key()
now = datetime.datetime.utcnow()
for i in range(n):
    name = f"n{i}.bench.test"
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(pub).serial_number(i + 1)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    Path(f"certs/{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key_pem)
PY
printf 'generated %d certificates in %.1f s\n' "$N" "$(echo "$(date +%s.%N) - $start" | bc)"

echo "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key" >ssl_multicert.config
cat >tlsgate.yaml <<CONF
threads: 1
listeners: [{listen: 127.0.0.1:$PORT}]
ssl: {multicert: ssl_multicert.config}
routes: {default: "builtin:inspect"}
plugins:
  - path: $PLUGIN_DIR/cert_loader.so
    args: [--dir, $TMP/certs, --threads, "$LOADER_THREADS", --cache, "$N"]
CONF
${TASKSET:-} "$BIN" -c tlsgate.yaml 2>gw.log &
GW=$!
for _ in $(seq 100); do grep -q 'tlsgate: ready' gw.log 2>/dev/null && break; sleep 0.1; done
grep -q 'tlsgate: ready' gw.log || { cat gw.log; exit 1; }

"$PY" - "$GW" "$PORT" "$N" "$CLIENTS" "$LOADER_THREADS" <<'PY'
import os, socket, ssl, sys, time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

pid, port, n, clients, loader_threads = (int(a) for a in sys.argv[1:])
hz = os.sysconf("SC_CLK_TCK")

def ticks(path):  # utime + stime
    f = open(path).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def cpu():
    """(all threads, the cert_loader threads) in clock ticks."""
    tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    per = {t: ticks(f"/proc/{pid}/task/{t}/stat") for t in tids}
    loader = sum(per[t] for t in tids if t in loader_tids)
    return ticks(f"/proc/{pid}/stat"), loader

# cert_loader names its threads "cert_loader".
loader_tids = {int(t) for t in os.listdir(f"/proc/{pid}/task")
               if open(f"/proc/{pid}/task/{t}/comm").read().strip() == "cert_loader"}
assert len(loader_tids) == loader_threads, loader_tids

def one(sni):
    ctx = one.ctx
    for attempt in range(3):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
                with ctx.wrap_socket(raw, server_hostname=sni) as s:
                    der = s.getpeercert(binary_form=True)
                    return len(der)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            if attempt == 2:
                raise

def run_chunk(snis):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    one.ctx = ctx
    with ThreadPoolExecutor(max(1, clients // 2)) as pool:
        return sum(1 for _ in pool.map(one, snis))

def run(label, snis, pool):
    c0, l0 = cpu()
    t0 = time.monotonic()
    done = sum(pool.map(run_chunk, [snis[0::2], snis[1::2]]))
    wall = time.monotonic() - t0
    c1, l1 = cpu()
    us = (c1 - c0) / hz * 1e6 / done
    lus = (l1 - l0) / hz * 1e6 / done
    print(f"{label:8s} {done:6d} handshakes  {done / wall:8.0f} /s  "
          f"{us:7.0f} us tlsgate CPU/handshake (loader threads {lus:5.0f})", flush=True)

names = [f"n{i}.bench.test" for i in range(n)]
with Pool(2) as pool:
    run("cold", names, pool)
    run("warm", names, pool)
    run("no-sni", [None] * n, pool)
PY
grep -c 'cannot use' gw.log >/dev/null && { echo "cert_loader errors:"; grep 'cannot use' gw.log | head; } || true
