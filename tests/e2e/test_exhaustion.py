"""File descriptor exhaustion (the hard-edges issue, D1): tlsgate run under `prlimit
--nofile` with more stalled clients than it has descriptors. accept() then fails with
EMFILE; the listening socket is level-triggered, so retrying at once would spin a core and
write a warning per try. tlsgate pauses accepting instead, says so once, keeps serving
the connections it holds, and accepts again once the stalled ones time out (S1)."""

from __future__ import annotations

import os
import resource
import socket
import time

import pytest

from conftest import SANITIZE, scaled
from tlsclient import client_context, inspect, tls_connect

NOFILE = 512
STALLED = 1000
HANDSHAKE_TIMEOUT = 4


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all threads, in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def enough_fds():
    """This test process holds STALLED sockets: raise its own soft limit for them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = STALLED + 200
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"the test needs {want} descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(SANITIZE != "", reason="UBSan checks a vptr by writing the memory to a "
                    "pipe: with no descriptor left it reports every virtual call as invalid")
def test_fd_exhaustion_neither_spins_nor_floods_and_recovers(gateway, pki, enough_fds):
    """Under prlimit --nofile=512 with 1,000 clients that connect and send nothing: while the
    descriptors are exhausted tlsgate uses a small share of a core (a spin is a whole one)
    and writes a handful of accept warnings (not one per try), and accept_errors counts the
    failures; once the stalled clients time out, a new client is served."""
    gw = gateway(wrapper=["prlimit", f"--nofile={NOFILE}:{NOFILE}"],
                 handshake_timeout=HANDSHAKE_TIMEOUT, threads=2)
    stalled = []
    began = time.monotonic()
    try:
        for _ in range(STALLED):
            stalled.append(socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)))
        # The accept queue holds what tlsgate cannot take: wait until it has hit the limit.
        assert gw.wait_line("accept on .*Too many open files", timeout=scaled(10)), \
            gw.stderr_text()
        before = cpu_seconds(gw.proc.pid)
        window = 2.0
        time.sleep(window)
        share = (cpu_seconds(gw.proc.pid) - before) / window
        warnings = [l for l in gw.lines if "accept on" in l]
        assert len(warnings) <= 4, (len(warnings), warnings[:5])
        assert share < 0.25, f"tlsgate used {share:.0%} of a core while at EMFILE"
        st = gw.stats()
        assert st["accept_errors"] >= 1, st
        # The first stalled clients time out (S1) and free descriptors; the rest of the queue
        # is taken (they stall again) and a new client is served behind them.
        time.sleep(HANDSHAKE_TIMEOUT)
        start = time.monotonic()
        r = inspect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(3 * HANDSHAKE_TIMEOUT))
        assert r.status == 200
        waited = time.monotonic() - start
        assert waited < scaled(2 * HANDSHAKE_TIMEOUT), waited
    finally:
        for s in stalled:
            s.close()
    assert gw.wait_line("accept on .*accepting again", timeout=scaled(10)), gw.stderr_text()
    # The descriptors ran out again as the queued clients were taken: whatever the number of
    # such episodes, each worker writes at most one failure line a minute and one "again"
    # after it.
    minutes = int((time.monotonic() - began) // 60) + 1
    warnings = [l for l in gw.lines if "accept on" in l]
    assert len(warnings) <= 2 * 2 * minutes, warnings[:10]


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(SANITIZE != "", reason="sanitizers bring their own allocator; "
                    "this is about glibc's malloc keeping freed memory")
def test_memory_of_a_burst_goes_back_to_the_kernel(gateway, pki, enough_fds):
    """1,000 TLS connections held open at once, then closed: glibc's malloc would keep the
    burst's memory in the worker's arena (RSS stays at its peak); tlsgate trims it a
    second after the connections fell to a quarter of their peak."""
    gw = gateway(threads=1)
    ctx = client_context(pki.ca)
    idle_rss = rss_mb(gw.proc.pid)
    held = []
    try:
        for _ in range(1000):
            held.append(tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)))
        gw.wait_stats(lambda st: st["connections_active"] == 1000, timeout=scaled(10))
        peak = rss_mb(gw.proc.pid)
    finally:
        for s in held:
            s.close()
    gw.wait_stats(lambda st: st["connections_active"] == 0, timeout=scaled(10))
    assert peak - idle_rss > 8, (idle_rss, peak)  # the burst cost memory worth giving back
    deadline = time.monotonic() + scaled(5)
    while time.monotonic() < deadline and rss_mb(gw.proc.pid) > idle_rss + (peak - idle_rss) / 2:
        time.sleep(0.2)
    after = rss_mb(gw.proc.pid)
    assert after <= idle_rss + (peak - idle_rss) / 2, (idle_rss, peak, after)
