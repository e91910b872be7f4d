"""Fault injection (the hard-edges issue): peers that misbehave must leave the gateway
serving and lose no connection it should have kept. An upstream that stalls (never reads,
never answers), an upstream that resets mid-stream, and a Redis that accepts and never
answers. (Descriptor exhaustion: test_exhaustion.py; bad files and memory limits during a
reload: test_bad_files.py.)"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import threading
import time

from conftest import scaled
from test_timeouts import wait_record, wait_tls_closed
from tlsclient import client_context, inspect, tls_connect
from upstreams import TcpServer, echo_handler

ACCESS_LOG = "access_log:\n  path: access.log\n"


def echo_once(s, payload: bytes) -> bytes:
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_stalled_upstream_holds_only_its_own_connection(gateway, pki):
    """An upstream that accepts and then neither reads nor writes: the client's bytes stop at
    the bounded relay buffer and the socket buffers (back-pressure, no unbounded memory),
    other clients are relayed meanwhile to a healthy route, and the stalled relay is
    closed at relay.inactivity_timeout."""
    release = threading.Event()

    def stalled(conn: socket.socket, record: dict) -> None:
        release.wait(scaled(30))

    with TcpServer(stalled) as sink, TcpServer(echo_handler) as healthy:
        gw = gateway(route=sink.address, alpn=["h2", "http/1.1"],
                     routes_yaml=f"alpn:\n  h2: {healthy.address}\n",
                     extra_yaml="relay:\n  inactivity_timeout: 2\n" + ACCESS_LOG)
        ctx = client_context(pki.ca)
        h2 = client_context(pki.ca, alpn=["h2"])
        try:
            with tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as s:
                s.setblocking(False)
                pushed = 0
                block = os.urandom(65536)
                while pushed < 256 * 1024 * 1024:  # push until back-pressure stops us
                    try:
                        pushed += s.send(block)
                    except (BlockingIOError, ssl.SSLWantWriteError):
                        break
                s.setblocking(True)
                # Another client, another route: served while the first one is stuck.
                with tls_connect(gw.port, h2, "a.test", timeout=scaled(10)) as other:
                    assert echo_once(other, b"still serving\n") == b"still serving\n"
                how, _ = wait_tls_closed(s, scaled(10))
                assert how in ("eof", "reset"), how
        finally:
            release.set()
    # Back-pressure held: the client's sends blocked after the socket buffers and one 16 KiB
    # chunk filled, far below what it would have pushed into an unbounded buffer.
    assert pushed < 64 * 1024 * 1024, pushed
    st = gw.wait_stats(lambda st: st["relay_inactivity_timeouts"] >= 1
                       and st["connections_active"] == 0)
    assert st["relay_inactivity_timeouts"] == 1, st
    wait_record(gw, "relay_idle_timeout")


def test_upstream_reset_mid_stream_ends_only_that_connection(gateway, pki):
    """An upstream that reads a little and resets (RST): that client's connection ends
    (relay_failed in the access log), a long-lived relay through the same gateway keeps
    working before and after, and new clients are served."""
    def reset_after_some(conn: socket.socket, record: dict) -> None:
        first = conn.recv(65536)
        if first.startswith(b"RESET"):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return  # close() with linger 0 sends an RST
        conn.sendall(first)
        while data := conn.recv(65536):
            conn.sendall(data)

    with TcpServer(reset_after_some) as up:
        gw = gateway(route=up.address, extra_yaml=ACCESS_LOG)
        ctx = client_context(pki.ca)
        with tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as kept:
            assert echo_once(kept, b"before\n") == b"before\n"
            with tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as victim:
                victim.sendall(b"RESET" + os.urandom(1000))
                how, _ = wait_tls_closed(victim, scaled(10))
                assert how in ("eof", "reset"), how
            assert echo_once(kept, b"after\n") == b"after\n"
            assert new_client_relayed(gw, ctx)
    wait_record(gw, "relay_failed")


def new_client_relayed(gw, ctx) -> bool:
    """A new client is relayed end to end (its own upstream connection)."""
    with tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as s:
        return echo_once(s, b"new client\n") == b"new client\n"


def test_stalled_redis_neither_blocks_start_nor_serving_nor_stop(gateway, pki):
    """ssl.server.ticket_key.redis pointing at a server that accepts and never answers:
    tlsgate starts on its own keys, serves handshakes, counts the failed Redis attempts
    (its command timeout bounds each), and SIGTERM still stops it at once."""
    release = threading.Event()

    def silent(conn: socket.socket, record: dict) -> None:
        release.wait(scaled(60))

    with TcpServer(silent) as fake:
        fleet = ("server:\n  ticket_key:\n    rotation: 3600\n"
                 f"    redis: {{address: '{fake.address}', poll_interval: 0.1}}\n")
        try:
            gw = gateway(threads=1, extra_ssl_yaml=fleet)
            r = inspect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10))
            assert r.status == 200
            gw.wait_stats(lambda st: st["ssl_ticket_key_redis_failures"] >= 2,
                          timeout=scaled(20))
            start = time.monotonic()
            assert gw.stop() == 0, gw.stderr_text()
            assert time.monotonic() - start < scaled(8)
        finally:
            release.set()
