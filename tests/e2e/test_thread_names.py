"""tlsgate names its threads (core/thread_name.h), so that per-thread CPU can be read from
/proc/<pid>/task/*/comm (bench/acme.sh does): worker-<n> per worker, reload, admin, and with
an acme: section acme (the ACME client) and acme-http (its http-01 listener)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from admin_client import admin_yaml
from conftest import scaled
from pebble import pebble, pebble_factory  # noqa: F401  (fixtures)
from test_acme import acme_yaml


def thread_names(pid: int, expected: list[str]) -> Counter:
    """The names of the process's threads, once every one of `expected` is there (a thread
    names itself when it starts running, which may be just after "ready"), or after 10 s."""
    deadline = time.monotonic() + scaled(10)
    while True:
        names = Counter(p.read_text().strip()
                        for p in Path(f"/proc/{pid}/task").glob("*/comm"))
        if all(names[n] for n in expected) or time.monotonic() > deadline:
            return names
        time.sleep(0.05)


def test_workers_reload_and_admin_threads_carry_their_names(gateway):
    gw = gateway(threads=3, extra_yaml=admin_yaml())
    expected = ["worker-0", "worker-1", "worker-2", "reload", "admin"]
    names = thread_names(gw.proc.pid, expected)
    for name in expected:
        assert names[name] == 1, names
    assert "worker-3" not in names, names


def test_the_acme_client_and_its_http_listener_carry_their_names(gateway, pebble, tmp_path):
    gw = gateway(threads=1, listeners=[f"127.0.0.1:{pebble.tls_port}"],
                 extra_yaml=acme_yaml(pebble, tmp_path))
    names = thread_names(gw.proc.pid, ["acme", "acme-http", "worker-0"])
    assert names["acme"] == 1 and names["acme-http"] == 1 and names["worker-0"] == 1, names
