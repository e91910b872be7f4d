"""The built-in demo configuration (scripts/demo-config.sh, what scripts/demo.sh runs) under
many clients at once: every client gets its answer.

The regression test of the Debian 13 stall (S3: the driver never blocks, never waits for an
event that cannot come): with OpenSSL 3.2+ a request sent in the same segment as the
client's Finished stayed in the handshake buffer, unseen, and most parallel clients got no
answer. Run against whatever OpenSSL the machine has; it failed on Debian 13's 3.5.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from conftest import REPO, Gateway, GatewayStartError, free_port, scaled

H2LOAD = "/usr/bin/h2load"


class DemoGateway(Gateway):
    """tlsgate on the files scripts/demo-config.sh writes, unchanged."""

    def __init__(self, binary, workdir, pki, port: int, admin_port: int):
        super().__init__(binary, workdir, pki, listeners=[f"127.0.0.1:{port}"])
        self.demo_port = port
        self.admin_port = admin_port

    def write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(REPO / "scripts" / "demo-config.sh"), str(self.dir),
                        str(self.demo_port), str(self.admin_port)], check=True)


@pytest.fixture
def demo(tmp_path, pki, tlsgate_bin):
    last = None
    for attempt in range(5):
        gw = DemoGateway(tlsgate_bin, tmp_path / f"demo{attempt}", pki, free_port(), free_port())
        try:
            gw.start()
        except GatewayStartError as e:  # a port was taken in between
            gw.stop()
            last = e
            continue
        yield gw
        assert gw.stop() == 0, gw.stderr_text()
        return
    raise AssertionError(f"could not start the demo: {last}")


def curl(demo: DemoGateway, i: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["curl", "-sS", "--max-time", str(int(scaled(30))), "--cacert",
         str(demo.dir / "ca.crt"), "-w", "\n%{http_code}", *extra,
         f"https://localhost:{demo.demo_port}/req/{i}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_500_parallel_curls_all_answered(demo):
    """S3: 500 curl processes started at once against the demo: every one gets 200 and the
    inspect answer, the server counts 500 handshakes and 500 requests."""
    procs = [curl(demo, i) for i in range(500)]
    results = [(p.wait(timeout=scaled(120)), *p.communicate()) for p in procs]
    failures = [(i, r) for i, r in enumerate(results)
                if r[0] != 0 or not r[1].endswith("\n200")]
    assert not failures, f"{len(failures)} of 500 failed, first: {failures[:3]}"
    for _, out, _ in results:
        assert json.loads(out.rsplit("\n", 1)[0])["sni"] == "localhost"
    s = demo.wait_stats(lambda s: s["inspect_requests"] >= 500
                        and s["connections_active"] == 0, timeout=30)
    assert s["ssl_total_success_handshake_count_in"] == 500, s
    assert s["inspect_requests"] == 500, s


def test_parallel_curls_with_a_small_client_hello(demo):
    """The same with X25519 only (a ClientHello in one segment): 100 at once, all answered."""
    procs = [curl(demo, i, "--curves", "X25519") for i in range(100)]
    results = [(p.wait(timeout=scaled(120)), *p.communicate()) for p in procs]
    failures = [r for r in results if r[0] != 0 or not r[1].endswith("\n200")]
    assert not failures, f"{len(failures)} of 100 failed, first: {failures[:3]}"


def test_h2load_100_clients(demo):
    """h2load --h1 -c 100 -n 2000 against the demo: every request succeeds."""
    if not (os.path.exists(H2LOAD) and os.access(H2LOAD, os.X_OK)):
        pytest.fail("h2load (nghttp2-client) not installed")
    p = subprocess.run([H2LOAD, "--h1", "-n", "2000", "-c", "100",
                        f"https://127.0.0.1:{demo.demo_port}/"],
                       capture_output=True, text=True, timeout=scaled(120))
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed", p.stdout)
    assert m, p.stdout
    assert m.groups() == ("2000", "2000", "2000", "2000", "0"), p.stdout
    deadline = time.monotonic() + scaled(10)
    while demo.stats()["inspect_requests"] < 2000 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert demo.stats()["inspect_requests"] == 2000
