"""The access log: one JSON line per connection, for a terminated, a tunnelled, a failed
and a timed-out connection; reopened after logrotate renames it (SIGUSR2 and POST /reopen)."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

from admin_client import (TUNNEL_REPLY, admin_yaml, garbage, request, terminated, tunnel,
                          tunnel_destination, tunnel_sni_yaml)
from conftest import scaled
from ja4 import JA4_RE, handshake_message, ja4

FIELDS = {"time", "client", "local", "sni", "alpn", "tls_version", "cipher", "certificate",
          "route", "upstream", "outcome", "class", "handshake_ms", "total_ms", "bytes_in",
          "bytes_out", "group", "hello_retry", "ja4"}


def log_gateway(gateway, dest_port: int, **kwargs):
    return gateway(extra_yaml=admin_yaml("sni: sni.yaml\naccess_log:\n  path: access.log\n"),
                   files={"sni.yaml": tunnel_sni_yaml(dest_port)}, **kwargs)


def wait_lines(path: Path, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + scaled(timeout)
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [json.loads(l) for l in text.splitlines()]
        if len(lines) >= count or time.monotonic() > deadline:
            assert len(lines) == count, text
            return lines
        time.sleep(0.05)


def test_terminated_tunnelled_and_failed_connections_each_log_one_json_line(gateway, pki):
    with tunnel_destination() as dest:
        gw = log_gateway(gateway, dest.port)
        log = gw.dir / "access.log"
        result = terminated(gw, pki)
        [done] = wait_lines(log, 1)
        hello = tunnel(gw)
        _, tunnelled = wait_lines(log, 2)
        garbage(gw)
        *_, failed = wait_lines(log, 3)

    for line in (done, tunnelled, failed):
        assert set(line) == FIELDS, line
        assert line["time"].endswith("Z") and len(line["time"]) == len("2024-01-01T00:00:00.000Z")
        assert line["client"].startswith("127.0.0.1:")
        assert line["local"] == f"127.0.0.1:{gw.port}"
        assert line["total_ms"] >= 0

    assert done["sni"] == "a.test" and done["alpn"] == "http/1.1"
    assert done["tls_version"] == result.version and done["cipher"] == result.cipher
    assert done["certificate"] == {"subject": "CN=a.test", "file": str(gw.dir / "a.crt")}
    assert done["route"] == "inspect" and done["upstream"] is None
    assert done["outcome"] == "done" and done["class"] == "terminated"
    assert 0 <= done["handshake_ms"] <= done["total_ms"]
    assert done["client"] == f"127.0.0.1:{result.client_addr[1]}"

    assert tunnelled["route"] == "tunnel" and tunnelled["outcome"] == "tunnel"
    assert tunnelled["class"] == "tunnel"
    assert tunnelled["upstream"] == f"127.0.0.1:{dest.port}"
    assert tunnelled["bytes_in"] == len(hello) and tunnelled["bytes_out"] == len(TUNNEL_REPLY)
    assert tunnelled["sni"] is None and tunnelled["handshake_ms"] is None  # never terminated
    # The ClientHello was read to decide the tunnel: its JA4 is known (test_ja4.py: exactly).
    assert tunnelled["ja4"] == ja4(handshake_message(hello)), tunnelled
    assert re.fullmatch(JA4_RE, done["ja4"]), done

    assert failed["outcome"] == "handshake_failed" and failed["class"] == "error"
    assert failed["route"] is None and failed["handshake_ms"] is None
    assert failed["tls_version"] is None and failed["certificate"] is None
    assert failed["bytes_in"] == 0 and failed["bytes_out"] == 0
    assert failed["ja4"] is None  # no ClientHello


def test_a_silent_client_logs_a_handshake_timeout(gateway):
    import socket
    with tunnel_destination() as dest:
        gw = log_gateway(gateway, dest.port, handshake_timeout=1)
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as s:
            assert s.recv(1) == b""  # the gateway closes after handshake_timeout_in
        [line] = wait_lines(gw.dir / "access.log", 1)
    assert line["outcome"] == "handshake_timeout" and line["class"] == "error"
    assert line["total_ms"] >= 900


def rotate_and_check(gw, pki, reopen) -> None:
    log = gw.dir / "access.log"
    terminated(gw, pki)
    wait_lines(log, 1)
    rotated = gw.dir / "access.log.1"
    log.rename(rotated)  # what logrotate does first
    reopen()
    terminated(gw, pki, sni="www.b.test")
    [new] = wait_lines(log, 1)
    assert new["sni"] == "www.b.test"
    [old] = wait_lines(rotated, 1)
    assert old["sni"] == "a.test"


def test_sigusr2_reopens_the_log_after_a_rename(gateway, pki):
    with tunnel_destination() as dest:
        gw = log_gateway(gateway, dest.port)

        def reopen():
            seen = len([l for l in gw.lines if "access log reopened" in l])
            gw.proc.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + scaled(10)
            while len([l for l in gw.lines if "access log reopened" in l]) == seen:
                assert time.monotonic() < deadline, gw.stderr_text()
                time.sleep(0.05)

        rotate_and_check(gw, pki, reopen)


def test_post_reopen_reopens_the_log_after_a_rename(gateway, pki):
    with tunnel_destination() as dest:
        gw = log_gateway(gateway, dest.port)

        def reopen():
            status, _, body = request(gw, "POST", "/reopen")
            assert status == 200, body

        rotate_and_check(gw, pki, reopen)


def test_a_relayed_and_a_refused_upstream_connection_log_forward_and_connect_failed(
        gateway, pki):
    """A plaintext relay (class forward) logs its upstream and the bytes each way exactly;
    an upstream that refuses the connection logs connect_failed."""
    import os
    from tlsclient import client_context, tls_connect
    from upstreams import TcpServer, closed_port, echo_handler

    message = os.urandom(3000)
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address, extra_yaml="access_log:\n  path: access.log\n")
        with tls_connect(gw.port, client_context(pki.ca), "a.test") as s:
            s.sendall(message)
            got = b""
            while len(got) < len(message):
                chunk = s.recv(65536)
                assert chunk, f"relay ended after {len(got)} bytes"
                got += chunk
            s.settimeout(scaled(10))
            s.unwrap()  # close_notify both ways: a clean end
        [relayed] = wait_lines(gw.dir / "access.log", 1)
    assert relayed["class"] == "forward" and relayed["route"] == "relay", relayed
    assert relayed["outcome"] == "done", relayed
    assert relayed["upstream"] == up.address, relayed
    assert relayed["bytes_in"] == len(message) and relayed["bytes_out"] == len(message), relayed
    assert relayed["sni"] == "a.test" and relayed["handshake_ms"] is not None

    refused = gateway(route=f"127.0.0.1:{closed_port()}",
                      extra_yaml="access_log:\n  path: access.log\n")
    with tls_connect(refused.port, client_context(pki.ca), "a.test") as s:
        s.settimeout(scaled(10))
        try:
            assert s.recv(1) == b""  # close_notify, then the end
        except (ConnectionResetError, OSError):
            pass
    [failed] = wait_lines(refused.dir / "access.log", 1)
    assert failed["outcome"] == "connect_failed" and failed["class"] == "error", failed
    assert failed["bytes_in"] == 0 and failed["bytes_out"] == 0, failed
