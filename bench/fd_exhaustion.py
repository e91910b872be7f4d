#!/usr/bin/env python3
"""Descriptor exhaustion, measured (the hard-edges issue): tlsgate on the demo configuration
under `prlimit --nofile=NOFILE`, STALLED clients that connect and send nothing. Prints, over
a WINDOW-second stretch spent at EMFILE, the share of a core tlsgate used and the lines it
wrote per minute; then how long a new client waits to be served once the stalled ones
have timed out (every stalled client is closed by tlsgate's handshake timeout; the
timeout is set to TIMEOUT seconds).

    bench/fd_exhaustion.py [--tlsgate build/tlsgate] [--nofile 512] [--stalled 1000]
                           [--timeout 70] [--window 60]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tlsgate", default=str(ROOT / "build/tlsgate"))
    ap.add_argument("--nofile", type=int, default=512)
    ap.add_argument("--stalled", type=int, default=1000)
    ap.add_argument("--timeout", type=int, default=70)
    ap.add_argument("--window", type=int, default=60)
    a = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (a.stalled + 500, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1]))
    work = Path(tempfile.mkdtemp(prefix="fd-exhaustion-"))
    port, admin = free_port(), free_port()
    subprocess.run([str(ROOT / "scripts/demo-config.sh"), str(work), str(port), str(admin)],
                   check=True, stdout=subprocess.DEVNULL)
    conf = work / "tlsgate.yaml"
    conf.write_text(re.sub(r"handshake_timeout_in: \d+", f"handshake_timeout_in: {a.timeout}",
                           conf.read_text()))
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(["prlimit", f"--nofile={a.nofile}:{a.nofile}", a.tlsgate, "-c",
                             str(conf)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def read() -> None:
        for raw in proc.stderr:
            lines.append((time.monotonic(), raw.decode(errors="replace").rstrip()))

    threading.Thread(target=read, daemon=True).start()
    while not any("ready" in l for _, l in lines):
        time.sleep(0.05)
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(a.stalled)]
    t0 = time.monotonic()
    while not any("Too many open files" in l for _, l in lines):
        time.sleep(0.05)
    window = min(a.window, a.timeout - 2)  # the first stalled clients time out after that
    before, start = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(window)
    share = (cpu_seconds(proc.pid) - before) / (time.monotonic() - start)
    count = sum(1 for t, _ in lines if start <= t)
    # Every stalled client is closed by the handshake timeout: the first wave at `timeout`,
    # the clients still queued behind it one timeout later, and so on.
    waves = -(-a.stalled // max(1, a.nofile - 64))
    closed_at = t0 + waves * a.timeout + 1
    while time.monotonic() < closed_at:
        time.sleep(0.1)
    ctx = ssl.create_default_context(cafile=str(work / "ca.crt"))
    t = time.monotonic()
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60),
                         server_hostname="localhost") as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        ok = s.recv(12).startswith(b"HTTP/1.1 200")
    served = time.monotonic() - t
    accept_lines = [l for _, l in lines if "accept on" in l]
    for s in stalled:
        s.close()
    proc.terminate()
    proc.wait(30)
    print(f"nofile {a.nofile}, {a.stalled} stalled clients, handshake timeout {a.timeout} s")
    print(f"  at EMFILE for {window:.0f} s: {share * 100:.2f} % of a core, "
          f"{count * 60 / window:.1f} log lines a minute")
    print(f"  accept warnings in the whole run ({time.monotonic() - t0:.0f} s): "
          f"{len(accept_lines)}")
    print(f"  new client after the stalled ones timed out: served={ok} in {served * 1000:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
