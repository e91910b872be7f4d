"""Relay to a plaintext upstream (route host:port), S14: after the handshake the connection
goes to the default endpoint, which relays both ways with half-close."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import subprocess
import time

from conftest import scaled
from tlsclient import BioTls, client_context, tls_connect
from upstreams import (HttpUpstream, TcpServer, closed_port, echo_handler,
                       greet_and_close_handler, half_close_handler)


def test_relay_echo_small(gateway, pki):
    """S14: data sent over TLS reaches the upstream in plaintext and its answer comes back;
    two messages on one connection; the relay counters count them."""
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address)
        ctx = client_context(pki.ca)
        with tls_connect(gw.port, ctx, "a.test") as s:
            for msg in (b"hello tlsgate\n", os.urandom(1000)):
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = s.recv(65536)
                    assert chunk, f"connection ended after {len(got)} bytes"
                    got += chunk
                assert got == msg
        assert up.wait_finished(1, scaled(5)), "upstream connection not closed after client"
        assert not up.errors, up.errors
        assert up.records[0]["received"] == 14 + 1000
        s = gw.wait_stats(lambda s: s["relay_bytes_upstream_to_client"] >= 1014)
        assert s["relay_bytes_client_to_upstream"] == 1014, s
        assert s["relay_bytes_upstream_to_client"] == 1014, s
        assert s["upstream_connect_failure"] == 0, s


def test_relay_large_payload_both_ways(gateway, pki):
    """S14: 8 MiB of random data through the relay and back (echo), sent while reading,
    intact (SHA-256 on both sides)."""
    payload = os.urandom(8 * 1024 * 1024)
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address)
        ctx = client_context(pki.ca)
        c = BioTls(gw.port, ctx, "a.test", timeout=scaled(10))
        try:
            c.handshake()
            got = c.exchange(payload, len(payload), timeout=scaled(60))
            assert len(got) == len(payload), f"got {len(got)} of {len(payload)} bytes ({c.end})"
            assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()
            c.send_close_notify()
            rest = c.read_until_end(scaled(10))
            assert rest == b""
        finally:
            c.close()
        assert up.wait_finished(1, scaled(10))
        assert not up.errors, up.errors
        assert up.records[0]["received"] == len(payload)
        assert up.records[0]["sha256"] == hashlib.sha256(payload).hexdigest()


def test_relay_half_close_client_side(gateway, pki):
    """S14: the client shuts its write side (TLS close_notify, TCP still open): the
    upstream sees EOF, and the answer it sends afterwards still reaches the client, followed
    by the end of the stream."""
    body = os.urandom(100_000)
    with TcpServer(half_close_handler(delay=0.3)) as up:
        gw = gateway(route=up.address)
        ctx = client_context(pki.ca, min_version=ssl.TLSVersion.TLSv1_3)
        c = BioTls(gw.port, ctx, "a.test", timeout=scaled(10))
        try:
            c.handshake()
            early = c.exchange(body, 0, timeout=scaled(10))
            assert early == b""
            c.send_close_notify()
            answer = c.read_until_end(scaled(10))
        finally:
            c.close()
        assert up.wait_finished(1, scaled(5))
        assert not up.errors, up.errors
        assert up.records[0].get("eof"), "upstream never saw EOF"
        expected = f"got {len(body)} bytes sha256 {hashlib.sha256(body).hexdigest()}\n"
        assert answer.decode(errors="replace") == expected
        assert c.end in ("close_notify", "eof"), c.end


def test_relay_upstream_closes_first(gateway, pki):
    """S14: the upstream sends a greeting and closes at once: the client gets the greeting
    and then the end of the stream (close_notify or EOF), without sending anything.

    Repeated 50 times: data and EOF arriving together is racy on the gateway side."""
    greeting = b"220 upstream says hi and leaves\r\n"
    rounds = 50
    with TcpServer(greet_and_close_handler(greeting)) as up:
        gw = gateway(route=up.address)
        ctx = client_context(pki.ca)
        for i in range(rounds):
            c = BioTls(gw.port, ctx, "a.test", timeout=scaled(10))
            try:
                c.handshake()
                try:
                    got = c.read_until_end(scaled(5))
                except TimeoutError as e:
                    raise AssertionError(
                        f"round {i}: {e} (client {c.sock.getsockname()}); the gateway "
                        f"neither closed nor sent close_notify after the upstream closed"
                    ) from None
            finally:
                c.close()
            assert got == greeting, f"round {i}"
            assert c.end in ("close_notify", "eof"), (i, c.end)
        st = gw.wait_stats(lambda s: s["connections_active"] == 0)
        assert st["relay_bytes_upstream_to_client"] == rounds * len(greeting), st
        assert st["connections_active"] == 0, st


def test_relay_upstream_down(gateway, pki):
    """S14/S4: the upstream refuses the connection: the client connection is closed
    cleanly and quickly (TLS close or EOF, no reset, no hang); upstream_connect_failure
    counts."""
    gw = gateway(route=f"127.0.0.1:{closed_port()}")
    ctx = client_context(pki.ca)
    start = time.monotonic()
    with tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as s:
        s.settimeout(scaled(5))
        try:
            data = s.recv(1024)
        except socket.timeout:
            raise AssertionError("client connection still open 5 s after upstream refusal")
    elapsed = time.monotonic() - start
    assert data == b"", data
    assert elapsed < scaled(5)
    st = gw.wait_stats(lambda s: s["upstream_connect_failure"] >= 1)
    assert st["upstream_connect_failure"] == 1, st
    assert st["ssl_total_success_handshake_count_in"] == 1, st


def test_relay_http_upstream_with_curl(gateway, pki):
    """S14: curl → tlsgate (TLS, SNI a.test) → http.server: the request arrives unchanged
    and the answer comes back."""
    token = os.urandom(8).hex()
    with HttpUpstream(token) as up:
        gw = gateway(route=up.address)
        url = f"https://a.test:{gw.port}/some/path?q={token}"
        p = subprocess.run(
            ["curl", "-sS", "--max-time", str(int(scaled(10))), "--cacert", str(pki.ca),
             "--resolve", f"a.test:{gw.port}:127.0.0.1", "-w", "\n%{http_code}", url],
            capture_output=True, text=True, timeout=scaled(20))
        assert p.returncode == 0, p.stderr
        body, code = p.stdout.rsplit("\n", 1)
        assert code == "200"
        seen = json.loads(body)
        assert seen == {"path": f"/some/path?q={token}", "host": f"a.test:{gw.port}",
                        "token": token}
        assert len(up.requests) == 1
