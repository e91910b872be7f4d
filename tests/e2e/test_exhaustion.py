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

from conftest import scaled
from tlsclient import client_context, inspect

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


def test_fd_exhaustion_neither_spins_nor_floods_and_recovers(gateway, pki, enough_fds):
    """Under prlimit --nofile=512 with 1,000 clients that connect and send nothing: while the
    descriptors are exhausted tlsgate uses a small share of a core (a spin is a whole one)
    and writes a handful of accept warnings (not one per try), and accept_errors counts the
    failures; once the stalled clients time out, a new client is served."""
    gw = gateway(wrapper=["prlimit", f"--nofile={NOFILE}:{NOFILE}"],
                 handshake_timeout=HANDSHAKE_TIMEOUT, threads=2)
    stalled = []
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
    warnings = [l for l in gw.lines if "accept on" in l]
    assert len(warnings) <= 6, warnings[:10]
