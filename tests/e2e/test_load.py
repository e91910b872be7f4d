"""Many clients at once (S3: the driver never blocks a thread)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import scaled

H2LOAD = "/usr/bin/h2load"


def test_200_parallel_curl(inspect_gw, pki):
    """S3: 200 independent curl processes (20 at a time) against inspect: all get 200, each
    with its own connection; the server counts 200 successful handshakes."""
    port = inspect_gw.port

    def one(i: int) -> tuple[int, str, str]:
        p = subprocess.run(
            ["curl", "-sS", "--max-time", str(int(scaled(20))), "--cacert", str(pki.ca),
             "--resolve", f"a.test:{port}:127.0.0.1", "-w", "\n%{http_code}",
             f"https://a.test:{port}/req/{i}"],
            capture_output=True, text=True, timeout=scaled(60))
        return p.returncode, p.stdout, p.stderr

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(200)))
    failures = [(i, r) for i, r in enumerate(results) if r[0] != 0 or not r[1].endswith("\n200")]
    assert not failures, f"{len(failures)} failed, first: {failures[:3]}"
    for _, out, _ in results:
        assert json.loads(out.rsplit("\n", 1)[0])["sni"] == "a.test"
    s = inspect_gw.wait_stats(lambda s: s["ssl_total_success_handshake_count_in"] >= 200
                              and s["connections_active"] == 0)
    assert s["ssl_total_success_handshake_count_in"] == 200, s
    assert s["inspect_requests"] == 200, s
    assert s["connections_active"] == 0, s


def test_h2load_http1(inspect_gw):
    """S3: h2load --h1 -n 200 -c 20 against inspect: 200 requests, 200 succeeded."""
    if not (os.path.exists(H2LOAD) and os.access(H2LOAD, os.X_OK)):
        pytest.skip("h2load (nghttp2-client) not installed")
    p = subprocess.run([H2LOAD, "--h1", "-n", "200", "-c", "20",
                        f"https://127.0.0.1:{inspect_gw.port}/"],
                       capture_output=True, text=True, timeout=scaled(60))
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed", p.stdout)
    assert m, p.stdout
    assert m.groups() == ("200", "200", "200", "200", "0"), p.stdout
    s = inspect_gw.stats()
    assert s["inspect_requests"] == 200, s
