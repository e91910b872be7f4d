#!/usr/bin/env bash
# reload: what S16 reloads cost. Two parts:
#   (a) memory: tlsgate's RSS (VmRSS, KiB) before and after RELOADS (default 1000) reloads,
#       each a SIGHUP followed by waiting for its `reload ok` line, with a handful of TLS
#       handshakes every 50 reloads (so old snapshots are pinned and released by real
#       connections). The RSS after the first 100 reloads is shown too: the allocator's
#       arenas settle there; growth after it is what a leak would look like.
#   (b) latency: ssl_multicert.config with CERTS (default 10000) entries, one EC P-256 key
#       and certificate each, distinct names, signed by one CA (Python `cryptography`,
#       generated now, deleted at exit). Prints the startup time (exec to `ready`), the
#       median of RUNS (default 7) `reload ok (N ms)` figures, and RSS after each reload
#       (during a reload the old and the new snapshot both exist; tlsgate does not trim
#       its heap, see tuneAllocator, so RSS shows that peak, not a leak, unless it grows).
#
#   bench/reload.sh [build/tlsgate]
set -euo pipefail
BIN=$(realpath "${1:-build/tlsgate}")
RELOADS=${RELOADS:-1000}
CERTS=${CERTS:-10000}
RUNS=${RUNS:-7}
THREADS=${THREADS:-2}
PY=${PY:-/usr/bin/python3}
TMP=$(mktemp -d /tmp/tlsgate-reload-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

cd "$TMP"
echo "tlsgate $(sha256sum "$BIN" | cut -c1-12) ($BIN), $THREADS worker threads, $(nproc) CPUs"

"$PY" - "$BIN" "$RELOADS" "$CERTS" "$RUNS" "$THREADS" <<'PY'
import datetime, re, signal, socket, ssl, statistics, subprocess, sys, threading, time
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

binary, reloads, certs, runs, threads = sys.argv[1], *map(int, sys.argv[2:])
now = datetime.datetime.now(datetime.timezone.utc)
ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reload bench CA")])


def issue(folder: Path, i: int) -> str:
    """Writes c<i>.crt and c<i>.key for n<i>.bench.test; returns its multicert line."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = f"n{i}.bench.test"
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(i + 1)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / f"c{i}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"c{i}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return f"ssl_cert_name=c{i}.crt ssl_key_name=c{i}.key"


class Gateway:
    def __init__(self, folder: Path, n: int):
        lines = [issue(folder, i) for i in range(n)]
        lines.append("dest_ip=* ssl_cert_name=c0.crt ssl_key_name=c0.key")
        (folder / "ssl_multicert.config").write_text("\n".join(lines) + "\n")
        (folder / "tlsgate.yaml").write_text(
            f"threads: {threads}\nlisteners: [{{listen: 127.0.0.1:0}}]\n"
            "ssl: {multicert: ssl_multicert.config}\nroutes: {default: 'builtin:inspect'}\n")
        self.lines, self.cond = [], threading.Condition()
        t0 = time.monotonic()
        self.proc = subprocess.Popen([binary, "-c", str(folder / "tlsgate.yaml")],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait(r"tlsgate: ready", 0, 600)
        self.startup = time.monotonic() - t0
        self.port = int(self.wait(r"listening on 127\.0\.0\.1:(\d+)", 0, 1).group(1))

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self.cond.notify_all()

    def wait(self, pattern, start, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if m := re.search(pattern, line):
                        return m
                start = len(self.lines)
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    sys.exit("timed out waiting for %r:\n%s" % (pattern, "\n".join(self.lines[-20:])))
                self.cond.wait(0.5)

    def reload(self) -> int:
        with self.cond:
            start = len(self.lines)
        self.proc.send_signal(signal.SIGHUP)
        m = self.wait(r"reload (ok \((\d+) ms\)|failed.*)", start, 600)
        if not m.group(2):
            sys.exit(m.group(0))
        return int(m.group(2))

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))

    def handshakes(self, n):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        for i in range(n):
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as raw:
                with ctx.wrap_socket(raw, server_hostname=f"n{i % 4}.bench.test") as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    while s.recv(65536):
                        pass

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(60) != 0:
            sys.exit(f"tlsgate exited {self.proc.returncode}")


# (a) memory across reloads, 4 certificates
a = Path("a"); a.mkdir()
gw = Gateway(a, 4)
gw.handshakes(20)
rss0 = rss100 = gw.rss_kib()
took = []
for i in range(1, reloads + 1):
    took.append(gw.reload())
    if i % 50 == 0:
        gw.handshakes(5)
    if i == 100:
        rss100 = gw.rss_kib()
gw.handshakes(20)
rss1 = gw.rss_kib()
gw.stop()
print(f"(a) {reloads} reloads, 4 certificates: RSS {rss0} KiB before, {rss100} KiB after 100, "
      f"{rss1} KiB after {reloads} ({rss1 - rss100:+d} KiB over the last {reloads - 100}); "
      f"reload median {statistics.median(took or [0])} ms")

# (b) latency with many certificates
b = Path("b"); b.mkdir()
t0 = time.monotonic()
gw = Gateway(b, certs)
print(f"(b) {certs} certificates generated and tlsgate started in {time.monotonic() - t0:.1f} s; "
      f"startup (exec to ready) {gw.startup * 1000:.0f} ms, RSS {gw.rss_kib()} KiB")
took, rss = [], []
for _ in range(runs):
    took.append(gw.reload())
    gw.handshakes(4)
    rss.append(gw.rss_kib())
print(f"    reload ok: median {statistics.median(took)} ms of {runs} ({took})")
print(f"    RSS after each reload, KiB: {rss}")
gw.stop()
PY
