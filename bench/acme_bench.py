#!/usr/bin/python3
"""Issue 18's figures for the ACME client, against Debian's pebble (bench/acme.sh runs it).

1. Seconds from tlsgate's exec to a served certificate chained to pebble's root, per
   challenge type (tls-alpn-01, http-01): every run a fresh state dir and account, pebble
   with PEBBLE_VA_NOSLEEP=1 and no badNonce rejection; a Python ssl client polls every
   50 ms with pebble's root as its only trust anchor, so only pebble's certificate passes.
2. Full handshakes per second and server CPU per handshake on that certificate served by
   the ACME client (managed store) next to the same chain and key from ssl_multicert.config:
   one worker pinned to SUT_CPU, bench/overload_client.cc on LOAD_CPU keeping CONCURRENCY
   full handshakes in flight (no session offered, no request: close once done), T seconds
   after a 1 s warm-up; the variants alternate, a fresh tlsgate per run.
3. CPU of every tlsgate thread (names from core/thread_name.h, /proc/<pid>/task/*/schedstat
   in ns) from "ready" to the order's certificate on disk, with pebble sleeping before each
   validation (PEBBLE_VA_SLEEPTIME) and no client but pebble's validation connections; then
   the same span again idle, as the baseline.

Timings are printed, never asserted: a run that does not finish prints why and goes on.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from conftest import free_port  # noqa: E402
from pebble import Pebble  # noqa: E402

NAME = "bench.acme.test"
WAIT = 120.0  # seconds: a run that takes longer is reported as not finished


# -- tlsgate ----------------------------------------------------------------------------

def acme_section(pebble: Pebble, state: Path, names: list[str], challenge: str,
                 key_type: str) -> str:
    return "\n".join([
        "acme:",
        f"  directory: {pebble.directory_url}",
        f"  ca_file: {pebble.ca_bundle}",
        f"  account_key: {state / 'account.key'}",
        f"  state_dir: {state}",
        f"  key_type: {key_type}",
        f"  challenges: [{challenge}]",
        f'  http_listener: {{address: "127.0.0.1:{pebble.http_port}", redirect_https: true}}',
        "  certificates:",
        f"    - names: [{', '.join(names)}]",
    ]) + "\n"


class Tlsgate:
    """One tlsgate, one worker, builtin:inspect, in `workdir` (tlsgate.yaml, multicert)."""

    def __init__(self, binary: str, workdir: Path, port: int, multicert: list[str],
                 extra_yaml: str = "", cpu: str | None = None):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.admin_port = free_port()
        (self.dir / "ssl_multicert.config").write_text("\n".join(multicert) + "\n")
        (self.dir / "tlsgate.yaml").write_text("\n".join([
            "threads: 1",
            "listeners:",
            f"  - listen: 127.0.0.1:{port}",
            "ssl:",
            "  multicert: ssl_multicert.config",
            "routes:",
            "  default: builtin:inspect",
            "drain_timeout: 1",
            "admin:",
            f"  listen: 127.0.0.1:{self.admin_port}",
        ]) + "\n" + extra_yaml)
        self.cmd = ([] if cpu is None else ["taskset", "-c", cpu]) + \
            [binary, "-c", str(self.dir / "tlsgate.yaml")]
        self.log = self.dir / "tlsgate.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        """Starts it; returns the monotonic time just before the exec."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        return t0

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while "tlsgate: ready" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tlsgate not ready:\n{self.log.read_text()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def counters(self) -> dict:
        url = f"http://127.0.0.1:{self.admin_port}/stats"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())["counters"]


def thread_cpu(pid: int) -> dict[str, int]:
    """ns of CPU per thread name (schedstat's first field: time spent running)."""
    out: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        out[name] = out.get(name, 0) + ns
    return out


def wait_threads_named(pid: int, names: list[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not all(n in thread_cpu(pid) for n in names) and time.monotonic() < deadline:
        time.sleep(0.02)


# -- clients ----------------------------------------------------------------------------

def served_by_pebble(port: int, name: str, roots: Path) -> bytes | None:
    """The leaf DER when a handshake for `name` verifies against pebble's roots, else None."""
    ctx = ssl.create_default_context(cafile=str(roots))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=name) as s:
            return s.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


def served_chain(port: int, name: str) -> list[str]:
    """The served chain's certificates (PEM), by openssl s_client -showcerts."""
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                          "-servername", name, "-showcerts"], input=b"",
                         capture_output=True, timeout=10).stdout.decode(errors="replace")
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)


def self_signed(workdir: Path, name: str) -> None:
    """default.crt/default.key: the multicert's default entry, for a name nobody asks."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(workdir / "default.key"),
                    "-out", str(workdir / "default.crt"), "-subj", f"/CN={name}", "-days", "2"],
                   check=True, capture_output=True)


DEFAULT_ENTRY = "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key"


# -- 1. time to a served certificate ------------------------------------------------------

def time_to_certificate(args, pebble: Pebble, roots: Path, work: Path, challenge: str,
                        run: int) -> tuple[float | None, float | None, Path]:
    """(seconds to the served certificate, seconds to "ready", the state dir)."""
    d = work / f"issue-{challenge}-{run}"
    d.mkdir(parents=True)
    self_signed(d, "default.bench.test")
    state = d / "acme-state"
    gw = Tlsgate(args.tlsgate, d, pebble.tls_port, [DEFAULT_ENTRY],
                 acme_section(pebble, state, [NAME], challenge, args.key_type))
    t0 = gw.start()
    ready = None
    try:
        while time.monotonic() - t0 < WAIT and gw.proc.poll() is None:
            if ready is None and "tlsgate: ready" in gw.log.read_text(errors="replace"):
                ready = time.monotonic() - t0
            if served_by_pebble(pebble.tls_port, NAME, roots):
                return time.monotonic() - t0, ready, state
            time.sleep(0.05)
        print(f"  {challenge} run {run}: no certificate after {WAIT} s; log {gw.log}")
        return None, ready, state
    finally:
        gw.stop()


def part_issue(args, pebble: Pebble, work: Path) -> Path | None:
    roots = pebble.fetch_roots(work / "pebble-roots.pem")
    print(f"1. exec to a served pebble certificate, {args.key_type}, median of {args.runs}"
          " (PEBBLE_VA_NOSLEEP=1, no badNonce)")
    last_state = None
    for challenge in ("tls-alpn-01", "http-01"):
        times, readies = [], []
        for run in range(args.runs):
            seconds, ready, state = time_to_certificate(args, pebble, roots, work, challenge,
                                                        run)
            if seconds is not None:
                times.append(seconds)
                readies.append(ready or 0.0)
                if challenge == "tls-alpn-01":
                    last_state = state
        shown = ", ".join(f"{t:.2f}" for t in times)
        median = f"{statistics.median(times):.2f} s" if times else "-"
        ready = f"{statistics.median(readies):.3f} s" if readies else "-"
        print(f"  {challenge:12} {median:>8}   runs: [{shown}]   (exec to ready: {ready})")
    return last_state


# -- 2. handshakes on the ACME certificate vs the same from a file -------------------------

def build_client(work: Path) -> Path:
    """bench/overload_client.cc (the handshake load generator of bench/overload.sh)."""
    binary = work / "overload_client"
    subprocess.run(["g++", "-O2", "-std=c++20", str(REPO / "bench" / "overload_client.cc"),
                    "-o", str(binary), "-lssl", "-lcrypto"], check=True)
    return binary


def handshake_load(args, port: int, seconds: float) -> tuple[int, float, dict]:
    """(handshakes done, measured seconds, report) of a closed loop of CONCURRENCY full
    handshakes in flight (no session offered, each closed once done), for `seconds`."""
    cmd = ["taskset", "-c", args.load_cpu, str(args.client), "attack", "--port", str(port),
           "--concurrency", str(args.concurrency), "--abandon-every", "0", "--duration",
           str(seconds), "--timeout-ms", "5000", "--sni", NAME]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    report = json.loads(out)
    measured = report["measured"]
    return measured["done"], measured["seconds"], report


def handshake_variant(args, pebble: Pebble, state: Path, work: Path, variant: str,
                      rep: int) -> Tlsgate:
    d = work / f"hs-{variant}-{rep}"
    d.mkdir(parents=True)
    self_signed(d, "default.bench.test")
    certs = state / "certificates"
    if variant == "acme":
        shutil.copytree(state, d / "acme-state")
        return Tlsgate(args.tlsgate, d, args.port, [DEFAULT_ENTRY],
                       acme_section(pebble, d / "acme-state", [NAME], "tls-alpn-01",
                                    args.key_type), cpu=args.sut_cpu)
    shutil.copy(certs / f"{NAME}.pem", d / "acme.pem")
    shutil.copy(certs / f"{NAME}.key", d / "acme.key")
    return Tlsgate(args.tlsgate, d, args.port,
                   ["ssl_cert_name=acme.pem ssl_key_name=acme.key", DEFAULT_ENTRY],
                   cpu=args.sut_cpu)


def handshake_run(args, gw: Tlsgate, expected_chain: list[str]) -> tuple[float, float] | None:
    """(handshakes/s, µs of worker CPU per handshake), or None when the run went wrong."""
    gw.start()
    try:
        gw.wait_ready()
        wait_threads_named(gw.proc.pid, ["worker-0"])
        chain = served_chain(args.port, NAME)
        if chain != expected_chain:
            print(f"  {gw.dir.name}: serves another chain ({len(chain)} certificates)")
            return None
        handshake_load(args, args.port, 1)  # warm-up: the heap grows once, here
        before = thread_cpu(gw.proc.pid)["worker-0"]
        done, seconds, report = handshake_load(args, args.port, args.seconds)
        worker_ns = thread_cpu(gw.proc.pid)["worker-0"] - before
        c = gw.counters()
        failed = report["measured"]["attempts"] - done
        if not done or failed > done // 100 or c.get("ssl_ticket_verified", 0):
            print(f"  {gw.dir.name}: {done} done, {failed} not, "
                  f"{c.get('ssl_ticket_verified')} resumed: {report}")
            return None
        return done / seconds, worker_ns / 1000 / done
    finally:
        gw.stop()


def part_handshakes(args, pebble: Pebble, state: Path, work: Path) -> None:
    chain = (state / "certificates" / f"{NAME}.pem").read_text()
    expected = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", chain,
                          re.S)
    results: dict[str, list[tuple[float, float]]] = {"acme": [], "file": []}
    for rep in range(args.reps):
        for variant in ("acme", "file") if rep % 2 == 0 else ("file", "acme"):
            gw = handshake_variant(args, pebble, state, work, variant, rep)
            r = handshake_run(args, gw, expected)
            if r:
                results[variant].append(r)
    print(f"2. full TLS 1.3 handshakes, {args.key_type}, {len(expected)}-certificate chain, "
          f"1 worker on CPU {args.sut_cpu}, {args.concurrency} in flight from CPU {args.load_cpu}"
          f" for {args.seconds} s, median of {args.reps}")
    print(f"  {'certificate from':18} {'handshakes/s':>13} {'µs worker CPU/hs':>17}   runs (hs/s)")
    medians = {}
    for variant, label in (("acme", "ACME (managed)"), ("file", "ssl_multicert")):
        rows = results[variant]
        if not rows:
            print(f"  {label:18} {'-':>13} {'-':>17}")
            continue
        medians[variant] = (statistics.median(r[0] for r in rows),
                            statistics.median(r[1] for r in rows))
        runs = ", ".join(f"{r[0]:.0f}" for r in rows)
        print(f"  {label:18} {medians[variant][0]:>13.0f} {medians[variant][1]:>17.1f}   [{runs}]")
    if len(medians) == 2:
        (ra, ca), (rf, cf) = medians["acme"], medians["file"]
        print(f"  difference (ACME vs file): {100 * (ra - rf) / rf:+.1f} % handshakes/s, "
              f"{100 * (ca - cf) / cf:+.1f} % CPU per handshake")


# -- 3. CPU per thread while an order is in progress ----------------------------------------

def order_cpu(args, pebble: Pebble, work: Path, challenge: str) -> None:
    d = work / f"order-{challenge}"
    d.mkdir(parents=True)
    self_signed(d, "default.bench.test")
    name = f"order-{challenge}.acme.test"
    state = d / "acme-state"
    gw = Tlsgate(args.tlsgate, d, pebble.tls_port, [DEFAULT_ENTRY],
                 acme_section(pebble, state, [name], challenge, args.key_type))
    gw.start()
    try:
        gw.wait_ready()
        wait_threads_named(gw.proc.pid, ["worker-0", "acme"])
        t0 = time.monotonic()
        issued = state / "certificates" / f"{name}.pem"
        while not issued.exists() and time.monotonic() - t0 < WAIT:
            time.sleep(0.05)
        t1 = time.monotonic()
        during = thread_cpu(gw.proc.pid)
        time.sleep(t1 - t0)  # the same span with nothing to do: the baseline
        idle = thread_cpu(gw.proc.pid)
        c = gw.counters()
    finally:
        gw.stop()
    if not issued.exists():
        print(f"  {challenge}: no certificate after {WAIT} s; log {gw.log}")
        return
    validations = c.get("acme_tls_alpn_validations", 0) + c.get("acme_http_validations", 0)
    print(f"  {challenge}: order done {t1 - t0:.1f} s after ready; {validations} validation "
          f"connections; worker handshakes {c.get('ssl_total_success_handshake_count_in')}")
    print(f"    {'thread':10} {'ms CPU, birth to issued':>24} {'ms CPU, next idle span':>23}")
    for thread in sorted(during, key=lambda n: (not n.startswith("worker"), n != "acme", n)):
        print(f"    {thread:10} {during[thread] / 1e6:>24.2f} "
              f"{(idle.get(thread, 0) - during[thread]) / 1e6:>23.2f}")


def part_order(args, work: Path) -> None:
    print(f"3. CPU per thread during one order (PEBBLE_VA_SLEEPTIME={args.va_sleep}: pebble "
          "waits 0..N-1 s before each validation), no client traffic")
    pebble = Pebble(work / "pebble-sleep", nonce_reject_percent=0,
                    va_sleep_seconds=args.va_sleep).start()
    try:
        for challenge in ("tls-alpn-01", "http-01"):
            order_cpu(args, pebble, work, challenge)
    finally:
        pebble.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tlsgate", nargs="?", default=str(REPO / "build" / "tlsgate"))
    p.add_argument("--parts", default="1,2,3")
    p.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", 3)))
    p.add_argument("--reps", type=int, default=int(os.environ.get("REPS", 5)))
    p.add_argument("--seconds", type=float, default=float(os.environ.get("T", 5)))
    p.add_argument("--concurrency", type=int, default=int(os.environ.get("CONCURRENCY", 32)))
    p.add_argument("--key-type", default=os.environ.get("KEY_TYPE", "ecdsa"))
    p.add_argument("--va-sleep", type=int, default=int(os.environ.get("VA_SLEEP", 5)))
    p.add_argument("--sut-cpu", default=os.environ.get("SUT_CPU", "0"))
    p.add_argument("--load-cpu", default=os.environ.get("LOAD_CPU", "1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 18640)))
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    args.tlsgate = str(Path(args.tlsgate).resolve())
    parts = set(args.parts.split(","))
    work = Path(tempfile.mkdtemp(prefix="tlsgate-acme-bench."))
    print(f"tlsgate {args.tlsgate}; load average {os.getloadavg()[0]:.2f}; work dir {work}")
    try:
        if parts & {"1", "2"}:
            pebble = Pebble(work / "pebble", nonce_reject_percent=0).start()
            try:
                state = part_issue(args, pebble, work)
                if "2" in parts and state:
                    args.client = build_client(work)
                    part_handshakes(args, pebble, state, work)
            finally:
                pebble.close()
        if "3" in parts:
            part_order(args, work)
    finally:
        print(f"load average {os.getloadavg()[0]:.2f}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
