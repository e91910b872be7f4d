"""Graceful drain: SIGTERM closes the listeners at once, lets established connections
finish, and closes what is left at drain_timeout; SIGINT and a second SIGTERM stop at once."""

from __future__ import annotations

import hashlib
import signal
import socket
import ssl
import time

from conftest import scaled
from tlsclient import client_context, refused, tls_connect
from upstreams import TcpServer, echo_handler

CHUNK = 64 * 1024
CHUNKS = 16


def trickle_handler(conn: socket.socket, record: dict) -> None:
    """After one byte from the client: CHUNKS chunks of CHUNK bytes over ~3 s, then close."""
    conn.recv(1)
    h = hashlib.sha256()
    for i in range(CHUNKS):
        data = bytes([i]) * CHUNK
        h.update(data)
        conn.sendall(data)
        time.sleep(3.0 / CHUNKS)
    record["sha256"] = h.hexdigest()


def ended(s: ssl.SSLSocket, timeout: float) -> bool:
    """True when the gateway ends the TLS connection (EOF, close_notify or reset) within
    `timeout`."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionError, ssl.SSLError):
        return True
    except socket.timeout:
        return False


def relayed(gw, pki) -> ssl.SSLSocket:
    """A TLS connection through `gw` to its echo upstream, shown to relay."""
    s = tls_connect(gw.port, client_context(pki.ca), "a.test")
    s.sendall(b"ping")
    assert s.recv(10) == b"ping"
    return s


def test_sigterm_lets_a_slow_download_finish(gateway, pki):
    """A response trickling over ~3 s arrives whole after SIGTERM; meanwhile new connections
    are refused; then tlsgate logs `drained` and exits 0."""
    with TcpServer(trickle_handler) as up:
        gw = gateway(route=up.address, drain_timeout=30)
        ctx = client_context(pki.ca)
        got = hashlib.sha256()
        n = 0
        with tls_connect(gw.port, ctx, "a.test", timeout=scaled(30)) as s:
            s.sendall(b"x")
            first = s.recv(CHUNK)
            assert first, "no first chunk"
            got.update(first)
            n += len(first)
            with gw._cond:
                start = len(gw.lines)
            gw.proc.send_signal(signal.SIGTERM)
            assert gw.wait_line(r"^tlsgate: SIGTERM: draining 1 connections \(up to 30s\)$",
                                start), gw.stderr_text()
            assert refused(gw.port), "a new connection was accepted during the drain"
            while True:
                chunk = s.recv(CHUNK)
                if not chunk:
                    break
                got.update(chunk)
                n += len(chunk)
        assert n == CHUNK * CHUNKS
        assert up.wait_finished(1, scaled(5))
        assert got.hexdigest() == up.records[0]["sha256"]
        assert gw.proc.wait(scaled(10)) == 0, gw.stderr_text()
        assert gw.wait_line(r"^tlsgate: drained$", start), gw.stderr_text()
        assert not gw.wait_line(r"drain timeout", start, timeout=0)


def test_drain_timeout_cuts_a_stuck_connection(gateway, pki):
    """With drain_timeout: 1 a connection that never ends is closed (and counted) and
    tlsgate exits 0 long before the default 30 s."""
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address, drain_timeout=1)
        with relayed(gw, pki) as s:
            with gw._cond:
                start = len(gw.lines)
            gw.proc.send_signal(signal.SIGTERM)
            assert gw.proc.wait(scaled(20)) == 0, gw.stderr_text()
            assert ended(s, scaled(5))
        assert gw.wait_line(r"^tlsgate: drain timeout: closed 1 connections$", start), \
            gw.stderr_text()


def test_stats_during_drain(gateway, pki):
    """SIGUSR1 still answers while draining; drain_closed is 0 until the timeout."""
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address, drain_timeout=30)
        with relayed(gw, pki) as s:
            gw.proc.send_signal(signal.SIGTERM)
            assert gw.wait_line(r"SIGTERM: draining 1 connections")
            st = gw.stats()
            assert st["connections_active"] == 1 and st["drain_closed"] == 0, st
            s.sendall(b"pong")  # the drained connection still relays
            assert s.recv(10) == b"pong"
        assert gw.proc.wait(scaled(10)) == 0, gw.stderr_text()
        assert gw.wait_line(r"^tlsgate: drained$")


def test_second_sigterm_stops_at_once(gateway, pki):
    """A second SIGTERM during a drain closes everything now."""
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address, drain_timeout=60)
        with relayed(gw, pki) as s:
            gw.proc.send_signal(signal.SIGTERM)
            assert gw.wait_line(r"SIGTERM: draining 1 connections")
            assert gw.alive()
            gw.proc.send_signal(signal.SIGTERM)
            assert gw.proc.wait(scaled(20)) == 0, gw.stderr_text()
            assert ended(s, scaled(5))
            assert gw.wait_line(r"^tlsgate: SIGTERM while draining: stopping now$")


def test_sigint_is_immediate(gateway, pki):
    """SIGINT does not drain: a connection in flight is closed and tlsgate exits 0."""
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address, drain_timeout=60)
        with relayed(gw, pki) as s:
            gw.proc.send_signal(signal.SIGINT)
            assert gw.proc.wait(scaled(20)) == 0, gw.stderr_text()
            assert ended(s, scaled(5))
        assert gw.wait_line(r"^tlsgate: SIGINT: stopping$")
        assert not gw.wait_line(r"draining", timeout=0)


def test_sigterm_without_connections_exits_at_once(gateway):
    """Nothing to drain: SIGTERM logs `drained` and exits 0."""
    gw = gateway(drain_timeout=60)
    gw.proc.send_signal(signal.SIGTERM)
    assert gw.proc.wait(scaled(20)) == 0, gw.stderr_text()
    assert gw.wait_line(r"^tlsgate: SIGTERM: draining 0 connections \(up to 60s\)$")
    assert gw.wait_line(r"^tlsgate: drained$")
