#!/usr/bin/python3
"""Issue 19's figures: N certificates in tlsgate and in HAProxy (bench/cert_scale.sh runs
this; its header says what is measured and how). Figures are printed, never asserted; the
run fails (exit 1, "cert_scale: FAILED: ...") only when a server does not start, a reload
fails or a handshake gets a certificate for another name.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from cryptography import x509

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cert_scale_gen as gen  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
START_LIMIT = 3600.0   # seconds a server may take to be ready or to reload
SERVE_LIMIT = 30.0     # seconds from a reload's log line to its certificate being served
RELOADS = 5


class Failure(Exception):
    pass


def env(key: str, default: str) -> str:
    return os.environ.get(key) or default


# -- processes ---------------------------------------------------------------------------

def tree(pid: int) -> list[int]:
    """pid and its descendants (HAProxy's master and workers)."""
    pids, k = [pid], 0
    while k < len(pids):
        for task in Path(f"/proc/{pids[k]}/task").glob("*"):
            try:
                pids += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        k += 1
    return list(dict.fromkeys(pids))


def cpu_seconds(pid: int) -> float:
    """utime+stime of the tree's processes (all threads), and of the children they reaped."""
    ticks = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / TICK


def kib(path: str, field: str) -> int:
    """A `field: N kB` figure of a /proc file; 0 when the process is gone."""
    try:
        return int(re.search(rf"{field}:\s+(\d+)", Path(path).read_text())[1])
    except (OSError, TypeError):
        return 0


def memory_kib(pid: int) -> tuple[int, int]:
    """(sum of VmRSS, sum of Pss) over the tree: RSS counts pages shared by a master and
    its worker twice, PSS splits them."""
    pids = tree(pid)
    return (sum(kib(f"/proc/{p}/status", "VmRSS") for p in pids),
            sum(kib(f"/proc/{p}/smaps_rollup", "Pss") for p in pids))


def settled_memory_kib(pid: int) -> tuple[int, int]:
    """memory_kib once the tree's RSS has held still for a second (at most 15 s): HAProxy's
    master re-executes itself in "wait mode" after forking a worker, and its RSS drops from
    that of a loaded configuration to ~12 MiB over the next few hundred ms."""
    samples, deadline = [], time.monotonic() + 15
    while time.monotonic() < deadline:
        samples.append(memory_kib(pid))
        recent = [rss for rss, _ in samples[-5:]]
        if len(recent) == 5 and max(recent) - min(recent) <= max(recent) // 200:
            break
        time.sleep(0.25)
    return samples[-1]


def memory_text(pid: int, figures: tuple[int, int] | None = None) -> str:
    """RSS and PSS of the tree (settled, unless given), and each process's RSS when there are
    several."""
    rss, pss = figures or settled_memory_kib(pid)
    pids = tree(pid)
    each = " + ".join(str(kib(f"/proc/{p}/status", "VmRSS")) for p in pids)
    return f"RSS {rss} KiB (PSS {pss} KiB{'; each: ' + each if len(pids) > 1 else ''})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_der(port: int, host: str) -> bytes | None:
    """The leaf a handshake for `host` gets (DER), None if no handshake completes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                return tls.getpeercert(binary_form=True)
    except OSError:
        return None


def names_host(der: bytes, host: str) -> bool:
    san = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    return host in san.get_values_for_type(x509.DNSName)


def file_der(path: Path) -> bytes:
    text = path.read_text()
    return ssl.PEM_cert_to_DER_cert(text[:text.index("-----END CERTIFICATE-----") + 25])


class Log:
    """A server's stderr, kept in memory and in a file, searchable by pattern."""

    def __init__(self, stream, path: Path):
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.path = path
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        with self.path.open("w") as copy:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip()
                copy.write(line + "\n")
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def find(self, pattern: str, start: int = 0) -> re.Match | None:
        with self.cond:
            for line in self.lines[start:]:
                if m := re.search(pattern, line):
                    return m
        return None

    def tail(self) -> str:
        with self.cond:
            return "\n".join(self.lines[-15:])


# -- the two servers ---------------------------------------------------------------------

class Server:
    label = ""
    reload_pattern = ""   # the log line that ends a reload (group 1: its own ms figure)
    failure_pattern = ""  # a log line that says a reload failed

    def __init__(self, argv: list[str], work: Path, tag: str):
        self.tag = tag
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     cwd=work)
        self.log = Log(self.proc.stderr, work / f"{tag}.log")
        self.port = 0

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise Failure(f"{self.label} ({self.tag}) exited with {self.proc.returncode}:\n"
                          f"{self.log.tail()}")

    def wait_served(self, host: str, der: bytes | None, deadline: float) -> float:
        """Handshakes for `host` until one gets `der` (None: any leaf for `host`)."""
        while True:
            got = served_der(self.port, host)
            if got is not None and (got == der or der is None and names_host(got, host)):
                return time.monotonic()
            self.alive()
            if time.monotonic() > deadline:
                raise Failure(f"{self.label} ({self.tag}): a handshake for {host} did not get "
                              f"{'its new certificate' if der else 'a certificate'} in time\n"
                              f"{self.log.tail()}")
            time.sleep(0.02)

    def reload(self, host: str, der: bytes) -> dict:
        """Signals a reload; returns its figures once `host` is served `der`: its own figure
        (tlsgate), the time to the log line and to the new certificate, and the CPU (process
        tree) from the signal to that certificate."""
        mark = self.log.mark()
        cpu0 = cpu_seconds(self.proc.pid)
        t0 = time.monotonic()
        self.signal_reload()
        logged = own_ms = None
        deadline = t0 + START_LIMIT
        while logged is None:
            if self.failure_pattern and (m := self.log.find(self.failure_pattern, mark)):
                raise Failure(f"{self.label}: reload failed: {m[0]}\n{self.log.tail()}")
            if m := self.log.find(self.reload_pattern, mark):
                logged = time.monotonic()
                own_ms = int(m[1]) if m.groups() and m[1] else None
            self.alive()
            if time.monotonic() > deadline:
                raise Failure(f"{self.label}: no reload line in {START_LIMIT:.0f} s")
            time.sleep(0.01)
        served = self.wait_served(host, der, logged + SERVE_LIMIT)
        return {"own_ms": own_ms, "logged_s": logged - t0, "served_s": served - t0,
                "cpu_s": cpu_seconds(self.proc.pid) - cpu0}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Tlsgate(Server):
    label = "tlsgate"
    reload_pattern = r"reload ok \((\d+) ms\)"
    failure_pattern = r"reload failed.*"

    def __init__(self, binary: Path, work: Path, tag: str, ssl_section: str, threads: int):
        config = work / f"{tag}.yaml"
        config.write_text(f"threads: {threads}\nlisteners: [{{listen: 127.0.0.1:0}}]\n"
                          f"ssl: {ssl_section}\nroutes: {{default: 'builtin:inspect'}}\n")
        super().__init__([str(binary), "-c", str(config)], work, tag)
        deadline = self.t0 + START_LIMIT
        while not self.log.find(r"tlsgate: ready"):
            self.alive()
            if time.monotonic() > deadline:
                raise Failure(f"tlsgate ({tag}) not ready in {START_LIMIT:.0f} s")
            time.sleep(0.005)
        self.ready_s = time.monotonic() - self.t0
        self.cpu_s = cpu_seconds(self.proc.pid)
        self.port = int(self.log.find(r"listening on 127\.0\.0\.1:(\d+)")[1])

    def signal_reload(self) -> None:
        self.proc.send_signal(signal.SIGHUP)


class Haproxy(Server):
    """Master-worker mode (-W). Ready = the first handshake that gets the probe name's
    certificate; a reload = SIGUSR2 to the master, which re-executes itself, reads the whole
    configuration again and starts a new worker."""
    label = "HAProxy"
    reload_pattern = r"Loading success\.()"
    failure_pattern = r"\[ALERT\].*"

    def __init__(self, binary: str, work: Path, tag: str, crt_list: Path, probe: str,
                 threads: int):
        port = free_port()
        config = work / f"{tag}.cfg"
        config.write_text(f"""global
    nbthread {threads}
    maxconn 4096
    hard-stop-after 30s
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend scale
    bind 127.0.0.1:{port} ssl crt-list {crt_list}
    default_backend nowhere
backend nowhere
""")
        super().__init__([binary, "-W", "-f", str(config)], work, tag)
        self.port = port
        self.wait_served(probe, None, self.t0 + START_LIMIT)
        self.ready_s = time.monotonic() - self.t0
        self.cpu_s = cpu_seconds(self.proc.pid)

    def signal_reload(self) -> None:
        self.proc.send_signal(signal.SIGUSR2)

    def settle(self) -> None:
        """Waits for the workers of earlier reloads to be gone (hard-stop-after 30 s)."""
        deadline = time.monotonic() + 60
        while len(tree(self.proc.pid)) > 2 and time.monotonic() < deadline:
            time.sleep(0.2)


# -- one run per server ------------------------------------------------------------------

class Bench:
    def __init__(self):
        self.n = int(sys.argv[1])
        self.binary = Path(sys.argv[2])
        self.work = Path(sys.argv[3])
        self.client = Path(sys.argv[4])
        self.pki = Path(env("CERTS_DIR", str(self.work / "pki"))).resolve()
        self.threads = int(env("THREADS", "2"))
        # tlsgate's ssl.cert_cache_size: every certificate parsed once warm (CACHE=10000
        # measures the default, where random names over a larger store miss).
        self.cache_size = int(env("CACHE", str(max(self.n, 1))))
        self.haproxy = env("HAPROXY", "/usr/sbin/haproxy")
        self.ondemand_only = env("ONDEMAND_ONLY", "0") == "1"
        self.processes = int(env("GEN_PROCS", str(os.cpu_count() or 2)))
        self.random = random.Random(int(env("SEED", "1")))
        self.results: dict[str, dict] = {"tlsgate": {}, "HAProxy": {}}
        self.live: list[Server] = []

    def leaves(self) -> list[Path]:
        return [gen.leaf_path(self.pki, i) for i in range(self.n)]

    def generate(self) -> None:
        t0 = time.monotonic()
        kinds = ("certs",) if self.ondemand_only else ("certs", "spare")
        made = gen.ensure(self.pki, self.n, self.processes, kinds)
        took = time.monotonic() - t0
        print(f"certificates: {self.pki}: {made} generated in {took:.1f} s "
              f"({self.n * len(kinds) - made} reused; {'/, '.join(kinds)}/), "
              f"{self.processes} processes", flush=True)
        if self.ondemand_only:
            return
        default = self.pki / "default.pem"
        lines = [f"ssl_cert_name={p}" for p in self.leaves()]
        (self.work / "multicert.config").write_text(
            "\n".join(lines + [f"dest_ip=* ssl_cert_name={default}"]) + "\n")
        (self.work / "crt-list").write_text("\n".join([str(default)] + [str(p) for p in
                                                                        self.leaves()]) + "\n")
        (self.work / "base.config").write_text(f"dest_ip=* ssl_cert_name={default}\n")
        (self.work / "base-crt-list").write_text(f"{default}\n")

    def start(self, server: str, tag: str, entries: str) -> Server:
        if server == "tlsgate":
            # Warm means parsed: a parsed-certificate cache as large as the store (as HAProxy
            # keeps every certificate parsed). RSS after load is before any handshake.
            s = Tlsgate(self.binary, self.work, tag,
                        f"{{multicert: {self.work / entries}, cert_cache_size: {self.cache_size}}}",
                        self.threads)
        else:
            probe = f"default{gen.SUFFIX}" if tag.endswith("base") else gen.name(0)
            s = Haproxy(self.haproxy, self.work, tag, self.work / entries, probe, self.threads)
        self.live.append(s)
        return s

    def stop(self, s: Server) -> None:
        s.stop()
        self.live.remove(s)

    def handshakes(self, s: Server, mode: str) -> dict[str, dict]:
        """Two sni_client runs against `s`: "load" with CONCURRENCY handshakes in flight, then
        "latency" with LATENCY_CONCURRENCY (1): each phase of each, with the server's CPU per
        handshake in that phase. On demand, the second run asks the names the first did not
        (--first)."""
        load = self.client_run(s, mode, env("CONCURRENCY", "32"), 0)
        first = load["total"]["cold_end"]
        latency = self.client_run(s, mode, env("LATENCY_CONCURRENCY", "1"), first)
        return {"load": load, "latency": latency}

    def client_run(self, s: Server, mode: str, concurrency: str, first: int) -> dict[str, dict]:
        """One sni_client run; the server's CPU is read at each of its phase marks."""
        argv = [str(self.client), "--port", str(s.port), "--names", str(self.n),
                "--mode", mode, "--concurrency", concurrency, "--first", str(first),
                "--threads", env("CLIENT_THREADS", "1"), "--duration", env("DURATION", "10"),
                "--warmup", env("WARMUP", "2"), "--seed", env("SEED", "1")]
        client = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        marks, phases = [], {}
        for line in client.stdout:
            record = json.loads(line)
            if "mark" in record:
                marks.append((record["mark"], cpu_seconds(s.proc.pid)))
            else:
                phases[record["phase"]] = record
        if client.wait() != 0:
            raise Failure(f"sni_client exited with {client.returncode}")
        s.alive()
        for (name, cpu0), (_, cpu1) in zip(marks, marks[1:]):
            p = phases[name]
            p["server_us_per_hs"] = (cpu1 - cpu0) / max(1, p["handshakes"]) * 1e6
            print(f"  {s.label} {name}, {concurrency} in flight: {p['per_second']:.0f} "
                  f"handshakes/s over {p['seconds']:.1f} s, p50 {p['p50_ms']:.2f} ms, "
                  f"p99 {p['p99_ms']:.2f} ms, max {p['max_ms']:.1f} ms; server CPU "
                  f"{p['server_us_per_hs']:.0f} µs per handshake; wrong certificate "
                  f"{p['wrong_certificate']}, failed {p['failed']}, timed out {p['timed_out']}"
                  + (f" (first: {p['first_failure']})" if p["first_failure"] else ""), flush=True)
            if name == "cold" and p["handshakes"] == 0:
                print("  (no names left to ask for the first time: N is too small for two "
                      "cold phases of DURATION seconds)", flush=True)
            if p["wrong_certificate"]:
                raise Failure(f"{s.label}: {p['wrong_certificate']} handshakes got a certificate "
                              f"for another name, e.g. {p['first_wrong']}")
        total = phases["total"]
        print(f"  ({total['handshakes']} handshakes in all, warm-up included; client CPU "
              f"{total['client_cpu_s']:.1f} s)", flush=True)
        return phases

    def change(self, everything: bool) -> int:
        """One random name's file rewritten with a new key and certificate, or every file
        traded for its spare; returns the name to check (for all: a random one)."""
        checked = self.random.randrange(self.n)
        if not everything:
            gen.write_leaves(self.pki, [checked], 1)
            return checked
        t0 = time.monotonic()
        gen.swap_all(self.pki, self.n)
        print(f"  (all {self.n} files traded for their spares in {time.monotonic() - t0:.1f} s,"
              " not timed)", flush=True)
        return checked

    def reloads(self, s: Server) -> dict:
        """Reload 1: one certificate changed; 2: all of them; 3-5: one each."""
        figures = {"one": [], "all": None}
        for k in range(1, RELOADS + 1):
            checked = self.change(everything=k == 2)
            der = file_der(gen.leaf_path(self.pki, checked))
            r = self.reload_one(s, gen.name(checked), der)
            print(f"  {s.label} reload {k} ({'all' if k == 2 else '1'} changed): "
                  + ", ".join(f"{key} {v}" for key, v in reload_text(r).items()), flush=True)
            if k == 2:
                figures["all"] = r
            else:
                figures["one"].append(r)
        return figures

    def reload_one(self, s: Server, host: str, der: bytes) -> dict:
        r = s.reload(host, der)
        if isinstance(s, Haproxy):
            s.settle()
        return r

    def run_server(self, server: str) -> None:
        out = self.results[server]
        print(f"{server}:", flush=True)
        base = self.start(server, f"{server}-base",
                          "base.config" if server == "tlsgate" else "base-crt-list")
        out["base_rss"] = settled_memory_kib(base.proc.pid)
        print(f"  1 certificate: ready in {base.ready_s:.2f} s, "
              f"{memory_text(base.proc.pid, out['base_rss'])}", flush=True)
        self.stop(base)
        s = self.start(server, server, "multicert.config" if server == "tlsgate" else "crt-list")
        s.wait_served(gen.name(self.n - 1), None, time.monotonic() + SERVE_LIMIT)
        out.update(ready_s=s.ready_s, cpu_s=s.cpu_s, rss=settled_memory_kib(s.proc.pid))
        print(f"  {self.n} certificates: ready in {s.ready_s:.2f} s, CPU {s.cpu_s:.1f} s, "
              f"{memory_text(s.proc.pid, out['rss'])}", flush=True)
        out["random"] = self.handshakes(s, "random")
        out["reloads"] = self.reloads(s)
        out["rss_reloaded"] = settled_memory_kib(s.proc.pid)
        print(f"  after {RELOADS} reloads: {memory_text(s.proc.pid, out['rss_reloaded'])}",
              flush=True)
        self.stop(s)

    def run_ondemand(self) -> None:
        out = self.results["tlsgate"]
        print("tlsgate on demand:", flush=True)
        (self.work / "ondemand.config").write_text(
            f"dest_ip=* ssl_cert_name={self.pki / 'default.pem'}\n")
        section = (f"{{multicert: {self.work / 'ondemand.config'}, "
                   f"cert_cache_size: {self.cache_size}, cert_directory: "
                   f"{{path: {self.pki / 'certs'}, cache_size: 100000, negative_ttl: 60}}}}")
        check = self.work / "ondemand-check.yaml"
        check.write_text(f"threads: 1\nlisteners: [{{listen: 127.0.0.1:0}}]\nssl: {section}\n"
                         "routes: {default: 'builtin:inspect'}\n")
        checked = subprocess.run([str(self.binary), "--check", "-c", str(check)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if checked.returncode != 0:
            out["ondemand"] = None
            why = (checked.stdout.strip().splitlines() or ["no message"])[-1]
            print(f"  skipped: on-demand not supported by this binary (--check: {why})",
                  flush=True)
            return
        s = Tlsgate(self.binary, self.work, "tlsgate-ondemand", section, self.threads)
        self.live.append(s)
        print(f"  ready in {s.ready_s:.2f} s, CPU {s.cpu_s:.1f} s, {memory_text(s.proc.pid)}",
              flush=True)
        out["ondemand"] = self.handshakes(s, "ondemand")
        print(f"  after the handshakes: {memory_text(s.proc.pid)}", flush=True)
        self.stop(s)

    def main(self) -> None:
        t0 = time.monotonic()
        self.generate()
        try:
            if not self.ondemand_only:
                self.run_server("tlsgate")
                if env("SKIP_HAPROXY", "0") != "1":  # its reloads at 100 k take minutes each
                    self.run_server("HAProxy")
            self.run_ondemand()
        finally:
            for s in list(self.live):
                s.stop()
        print_table(self.n, self.results)
        print(f"\nrun took {time.monotonic() - t0:.0f} s", flush=True)


# -- the table ---------------------------------------------------------------------------

def reload_text(r: dict) -> dict[str, str]:
    text = {}
    if r["own_ms"] is not None:
        text["logged"] = f"{r['own_ms']} ms"
    text["signal to log line"] = f"{r['logged_s']:.2f} s"
    text["signal to served"] = f"{r['served_s']:.2f} s"
    text["CPU"] = f"{r['cpu_s']:.1f} s"
    return text


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def reload_cell(r: dict | None) -> str:
    if r is None:
        return "—"
    served = f"{r['served_s']:.2f} s to served, CPU {r['cpu_s']:.1f} s"
    return f"{r['own_ms'] / 1000:.2f} s ({served})" if r["own_ms"] is not None else served


def load_cell(runs: dict | None, phase: str) -> str:
    p = runs["load"].get(phase) if runs else None
    if not p or not p["handshakes"]:
        return "—"
    return f"{p['per_second']:.0f} (p99 {p['p99_ms']:.1f} ms)"


def latency_cell(runs: dict | None, phase: str) -> str:
    p = runs["latency"].get(phase) if runs else None
    if not p or not p["handshakes"]:
        return "—"
    return f"{p['p50_ms']:.2f} / {p['p99_ms']:.2f} ms"


def cpu_cell(runs: dict | None, phase: str) -> str:
    p = runs["load"].get(phase) if runs else None
    return f"{p['server_us_per_hs']:.0f} µs" if p and p["handshakes"] else "—"


def column(n: int, r: dict) -> list[str]:
    if "rss" not in r:
        return ["—"] * 11
    one = r["reloads"]["one"]
    median_one = {key: statistics.median(x[key] for x in one) if one[0][key] is not None
                  else None for key in one[0]}
    per_cert = (r["rss"][0] - r["base_rss"][0]) / n
    return [f"{r['ready_s']:.1f} s", f"{r['cpu_s']:.1f} s",
            f"{mib(r['rss'][0])} (PSS {mib(r['rss'][1])})",
            f"{mib(r['base_rss'][0])}", f"{per_cert:.1f}",
            reload_cell(median_one), reload_cell(r["reloads"]["all"]),
            f"{mib(r['rss_reloaded'][0])} (PSS {mib(r['rss_reloaded'][1])})",
            load_cell(r["random"], "random"), latency_cell(r["random"], "random"),
            cpu_cell(r["random"], "random")]


def print_table(n: int, results: dict) -> None:
    rows = ["ready (exec to ready)", "CPU to ready (utime+stime)", "RSS after load",
            "RSS with 1 certificate", "KiB per certificate (RSS - 1-cert RSS) / N",
            f"reload, 1 changed (median of {RELOADS - 1})", "reload, all changed",
            f"RSS after {RELOADS} reloads"]
    load = f"{env('CONCURRENCY', '32')} in flight"
    alone = f"at {env('LATENCY_CONCURRENCY', '1')} in flight"
    for what in ["warm, random names", "on-demand cold", "on-demand warm"]:
        rows += [f"handshakes/s, {what}, {load} (p99)", f"p50 / p99, {what}, {alone}",
                 f"server CPU per handshake, {what}, {load}"]
    tg, hap = column(n, results["tlsgate"]), column(n, results["HAProxy"])
    ondemand = results["tlsgate"].get("ondemand")
    for phase in ["cold", "warm"]:
        if ondemand:
            tg += [load_cell(ondemand, phase), latency_cell(ondemand, phase),
                   cpu_cell(ondemand, phase)]
        else:
            tg += ["skipped (not supported)"] + ["—"] * 2
        hap += ["—"] * 3
    print(f"\n| N = {n:,} | tlsgate | HAProxy |\n|---|---|---|")
    for row, a, b in zip(rows, tg, hap):
        print(f"| {row} | {a} | {b} |")


if __name__ == "__main__":
    try:
        Bench().main()
    except Failure as e:
        sys.exit(f"cert_scale: FAILED: {e}")
