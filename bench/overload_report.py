#!/usr/bin/env python3
"""The bookkeeping of bench/overload.sh (stdlib only).

    overload_report.py field JSON PATH           one value of a JSON text (PATH: a.b.c)
    overload_report.py sample --pid P --from-ms T0 --to-ms T1 --sut-cpu 0 --load-cpu 1
        waits for T0 (CLOCK_REALTIME ms), then until T1: CPU time (utime+stime) of P and
        its descendants over [T0, T1] as % of one core, VmRSS of the tree (summed) sampled
        every 0.2 s (peak and last), the same CPU figure for --load-pids (generators and
        origin), and how busy both CPUs were (/proc/stat, all processes)
    overload_report.py combine --sut S --limits TEXT --dir D   one system's result (JSON)
    overload_report.py table --out FILE [parameters] RESULT...  markdown table + one JSON
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
GOAL_SUCCESS, GOAL_P99 = 99.0, 50.0


def field(text: str, path: str) -> object:
    value = json.loads(text)
    for key in path.split("."):
        value = value[key]
    return value


def tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def ticks(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])
    return total


def rss_kib(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def cpu_times(cpus: list[int]) -> dict[int, tuple[int, int]]:
    """cpu -> (busy, total) ticks; idle and iowait are not busy."""
    out = {}
    for line in open("/proc/stat"):
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            v = [int(x) for x in values[:8]]
            out[int(name[3:])] = (sum(v) - v[3] - v[4], sum(v))
    return out


NETSTAT_KEYS = ("ListenOverflows", "ListenDrops", "SyncookiesSent", "TCPReqQFullDrop",
                "TCPReqQFullDoCookies", "TCPAbortOnData")


def netstat() -> dict[str, int]:
    """The kernel's TCP counters that tell of a full accept queue (machine-wide)."""
    lines = [l.split() for l in open("/proc/net/netstat") if l.startswith("TcpExt:")]
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:]) if k in NETSTAT_KEYS}


def sleep_until(ms: int) -> None:
    delay = ms / 1000 - time.time()
    if delay > 0:
        time.sleep(delay)


def sample(a: argparse.Namespace) -> dict:
    cpus = [a.sut_cpu, a.load_cpu]
    sleep_until(a.from_ms)
    pids = tree(a.pid)
    load = [p for root in a.load_pids.split(",") if root for p in tree(int(root))]
    t0, c0, w0 = ticks(pids), cpu_times(cpus), time.monotonic()
    l0, n0 = ticks(load), netstat()
    peak = last = rss_kib(pids)
    while time.time() * 1000 < a.to_ms:
        time.sleep(min(0.2, max(0.0, a.to_ms / 1000 - time.time())))
        pids = tree(a.pid)
        last = rss_kib(pids)
        peak = max(peak, last)
    seconds = time.monotonic() - w0
    t1, c1, l1, n1 = ticks(pids), cpu_times(cpus), ticks(load), netstat()
    busy = {name: round(100 * (c1[c][0] - c0[c][0]) / max(1, c1[c][1] - c0[c][1]), 1)
            for name, c in (("sut", a.sut_cpu), ("load", a.load_cpu))}
    return {"seconds": round(seconds, 2), "cpu_pct": round(100 * (t1 - t0) / TICKS / seconds, 1),
            "rss_peak_mib": round(peak / 1024, 1), "rss_end_mib": round(last / 1024, 1),
            "core_busy_pct": busy, "processes": len(pids),
            "load_cpu_pct": round(100 * (l1 - l0) / TICKS / seconds, 1), "load_pids": load,
            "tcp": {k: n1[k] - n0[k] for k in n1}}


def counters_delta(d: Path) -> dict:
    before, after = d / "stats-before.json", d / "stats-after.json"
    if not before.exists() or not after.exists():
        return {}
    b = json.loads(before.read_text())["counters"]
    a = json.loads(after.read_text())["counters"]
    return {k: v - b.get(k, 0) for k, v in a.items()
            if isinstance(v, int) and v - b.get(k, 0) != 0}


def combine(a: argparse.Namespace) -> dict:
    d = Path(a.dir)
    legit = json.loads((d / "legit.json").read_text())
    attack = json.loads((d / "attack.json").read_text())
    lm, am = legit["measured"], attack["measured"]
    seconds = am["seconds"]
    return {
        "sut": a.sut, "limits": a.limits,
        "legit": {
            "attempted": lm["attempts"], "succeeded": lm["done"],
            "success_pct": round(100 * lm["done"] / max(1, lm["attempts"]), 2),
            "resumed_pct": round(100 * lm["resumed"] / max(1, lm["done"]), 1),
            "session_ms": lm.get("session_ms"), "handshake_ms": lm.get("handshake_ms"),
            "start_lag_ms": lm.get("start_lag_ms"), "raw": legit,
        },
        "attack": {
            "attempts": am["attempts"], "attempts_per_s": round(am["attempts"] / seconds),
            "handshakes_completed": am["done"],
            "handshakes_completed_per_s": round(am["done"] / seconds, 1),
            "clienthellos_abandoned": am["abandoned"], "raw": attack,
        },
        "sut_process": json.loads((d / "sample.json").read_text()),
        "tlsgate_counters": counters_delta(d),
    }


def goal(r: dict) -> str:
    gaps = []
    if r["legit"]["success_pct"] < GOAL_SUCCESS:
        gaps.append(f"success {r['legit']['success_pct'] - GOAL_SUCCESS:+.2f} pts")
    if not r["legit"]["session_ms"]:
        gaps.append("no session done")
    elif r["legit"]["session_ms"]["p99"] > GOAL_P99:
        gaps.append(f"p99 +{r['legit']['session_ms']['p99'] - GOAL_P99:.1f} ms")
    return "met" if not gaps else "missed: " + ", ".join(gaps)


def failures(raw: dict) -> str:
    keys = ["refused", "reset", "closed", "timeout", "tls_error", "http_error", "local_error"]
    parts = [f"{k} {raw[k]}" for k in keys if raw.get(k)]
    return ", ".join(parts) or "none"


def ms(series: dict | None, key: str) -> str:
    return f"{series[key]:.1f}" if series else "–"


def row(r: dict) -> str:
    lg, at, sp = r["legit"], r["attack"], r["sut_process"]
    return (f"| {r['sut']} | {lg['success_pct']:.2f} % ({lg['succeeded']}/{lg['attempted']}) "
            f"| {ms(lg['session_ms'], 'p50')} / {ms(lg['session_ms'], 'p99')} "
            f"| {at['handshakes_completed']} ({at['handshakes_completed_per_s']:.0f}/s) "
            f"| {sp['cpu_pct']:.0f} % | {sp['rss_peak_mib']:.1f} "
            f"| {sp['load_cpu_pct']:.0f} % | {goal(r)} |")


def table(a: argparse.Namespace) -> None:
    results = [json.loads(Path(p).read_text()) for p in a.results]
    params = {k: getattr(a, k) for k in ("date", "capacity", "session_us", "attack_rate",
                                          "legit_rate", "duration", "legit_clients", "requests",
                                          "legit_timeout_ms", "attack_timeout_ms")}
    Path(a.out).write_text(json.dumps({"parameters": params, "results": results}, indent=1))
    print(f"\n## Handshake flood, {a.date} ({a.duration} s per system)\n")
    print(f"Capacity {a.capacity} full RSA-2048 handshakes/s; attack {a.attack_rate} attempts/s "
          f"from 8 sources (half abandoned after the ClientHello); legit {a.legit_rate} "
          f"sessions/s from {a.legit_clients} sources (resumed + {a.requests} requests, "
          f"{a.session_us} µs each, deadline {a.legit_timeout_ms} ms).\n")
    print("| system | legit success | legit p50 / p99 ms | attack handshakes done "
          "| SUT CPU | SUT RSS peak MiB | load core: clients + origin | goal |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(row(r))
    print()
    for r in results:
        lg, at = r["legit"], r["attack"]
        tcp = r["sut_process"].get("tcp", {})
        print(f"- {r['sut']}: limits: {r['limits']}; legit: resumed {lg['resumed_pct']} %, "
              f"handshake p50 / p99 {ms(lg['handshake_ms'], 'p50')} / "
              f"{ms(lg['handshake_ms'], 'p99')} ms, failures: {failures(lg['raw']['measured'])}; "
              f"attack: {at['attempts_per_s']}/s attempted, failures: "
              f"{failures(at['raw']['measured'])}; accept queue overflows "
              f"{tcp.get('ListenOverflows', '?')}")


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("field")
    f.add_argument("json")
    f.add_argument("path")
    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--from-ms", type=int, required=True)
    s.add_argument("--to-ms", type=int, required=True)
    s.add_argument("--load-pids", default="", help="the load generators and the origin")
    s.add_argument("--sut-cpu", type=int, default=0)
    s.add_argument("--load-cpu", type=int, default=1)
    c = sub.add_parser("combine")
    for k in ("--sut", "--limits", "--dir"):
        c.add_argument(k, required=True)
    t = sub.add_parser("table")
    t.add_argument("--out", required=True)
    for k in ("--date", "--capacity", "--session-us", "--attack-rate", "--legit-rate",
              "--duration", "--legit-clients", "--requests", "--legit-timeout-ms",
              "--attack-timeout-ms"):
        t.add_argument(k, required=True)
    t.add_argument("results", nargs="*")
    a = ap.parse_args()
    if a.cmd == "field":
        print(field(a.json, a.path))
    elif a.cmd == "sample":
        print(json.dumps(sample(a)))
    elif a.cmd == "combine":
        print(json.dumps(combine(a), indent=1))
    else:
        table(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
