"""The blind tunnel relay (splice): bulk both ways, half-close, inactivity timeout, connect
failure, and S9 pass-through on an ordinary listener whose original destination comes from
a PROXY header.

A tunnel_route tunnel starts with the client's ClientHello (the decision is taken there)
and then carries whatever follows untouched, so these tests send a real ClientHello and
then raw bytes: the destination checks that the ClientHello arrived first, byte for byte
(S10's replay), and that every later byte arrived in order."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

from conftest import scaled
from tlsclient import client_context, client_hello_bytes, inspect, wait_closed
from upstreams import TcpServer, closed_port, _recv_exact

GIB = 1 << 30
CHUNK = 1 << 20


def pattern(seed: int) -> bytes:
    """One MiB of bytes that differ per seed (so a direction mix-up shows)."""
    return hashlib.sha256(str(seed).encode()).digest() * (CHUNK // 32)


def send_stream(sock: socket.socket, total: int, seed: int) -> str:
    """Sends `total` bytes of the seed's pattern; returns their sha256."""
    block = pattern(seed)
    digest = hashlib.sha256()
    sent = 0
    while sent < total:
        piece = block[: min(CHUNK, total - sent)]
        sock.sendall(piece)
        digest.update(piece)
        sent += len(piece)
    return digest.hexdigest()


def recv_stream(sock: socket.socket, total: int) -> tuple[int, str]:
    """Reads up to `total` bytes (stops at EOF); returns (count, sha256)."""
    digest = hashlib.sha256()
    got = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while got < total:
        n = sock.recv_into(view, min(CHUNK, total - got))
        if n == 0:
            break
        digest.update(view[:n])
        got += n
    return got, digest.hexdigest()


def sni_yaml(destination: str, fqdn: str = "tunnel.test") -> str:
    return f"sni:\n  - fqdn: {fqdn}\n    tunnel_route: {destination}\n"


def tunnel_gateway(gateway, destination: str, **kwargs):
    return gateway(route=None, extra_yaml="sni: sni.yaml\n" + kwargs.pop("extra_yaml", ""),
                   files={"sni.yaml": sni_yaml(destination)}, **kwargs)


def test_one_gib_each_way_through_a_tunnel_arrives_intact(gateway):
    """1 GiB from the client and 1 GiB from the destination at the same time, through a
    tunnel_route tunnel: both arrive complete, in order (sha256), and the destination saw
    the replayed ClientHello first."""
    hello = client_hello_bytes("tunnel.test")

    def destination(conn: socket.socket, record: dict) -> None:
        record["hello"] = _recv_exact(conn, len(hello))
        result = {}
        t = threading.Thread(target=lambda: result.update(sent=send_stream(conn, GIB, 2)))
        t.start()
        record["got"], record["digest"] = recv_stream(conn, GIB)
        t.join()
        record["sent"] = result["sent"]

    with TcpServer(destination, timeout=scaled(120)) as server:
        gw = tunnel_gateway(gateway, server.address)
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(120)) as c:
            c.sendall(hello)
            down = {}
            t = threading.Thread(
                target=lambda: down.update(zip(("got", "digest"), recv_stream(c, GIB))))
            t.start()
            up_digest = send_stream(c, GIB, 1)
            t.join()
        assert server.wait_finished(1, scaled(60)), server.errors
        rec = server.records[0]
        assert not server.errors, server.errors
        assert rec["hello"] == hello
        assert rec["got"] == GIB and rec["digest"] == up_digest
        assert down["got"] == GIB and down["digest"] == rec["sent"]
        s = gw.wait_stats(lambda s: s["tunnel_bytes_destination_to_client"] >= GIB)
        assert s["sni_tunnels"] == 1
        assert s["tunnel_bytes_client_to_destination"] == GIB + len(hello)
        assert s["tunnel_bytes_destination_to_client"] == GIB


def test_half_close_passes_through_the_tunnel(gateway):
    """The client's FIN reaches the destination as EOF while the destination's answer still
    reaches the client; then the destination's FIN ends the client's read."""
    hello = client_hello_bytes("tunnel.test")

    def destination(conn: socket.socket, record: dict) -> None:
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        record["data"] = data
        conn.sendall(b"after-eof:" + str(len(data)).encode())

    with TcpServer(destination) as server:
        gw = tunnel_gateway(gateway, server.address)
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as c:
            c.sendall(hello + b"last words")
            c.shutdown(socket.SHUT_WR)
            answer = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert server.wait_finished(1, scaled(10))
        assert server.records[0]["data"] == hello + b"last words"
        assert answer == b"after-eof:" + str(len(hello) + 10).encode()


def test_silent_tunnel_is_closed_after_the_inactivity_timeout(gateway):
    """tunnel.inactivity_timeout: 1 closes a tunnel nobody speaks on within two periods,
    and counts it; a tunnel that keeps talking is not closed."""
    hello = client_hello_bytes("tunnel.test")

    def destination(conn: socket.socket, record: dict) -> None:
        while conn.recv(65536):
            pass

    with TcpServer(destination) as server:
        gw = tunnel_gateway(gateway, server.address, extra_yaml="tunnel:\n  inactivity_timeout: 1\n")
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as busy, \
                socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as idle:
            busy.sendall(hello)
            idle.sendall(hello)
            stop = threading.Event()
            errors = []

            def chatter() -> None:  # the busy tunnel speaks every 0.3 s all along
                try:
                    while not stop.wait(0.3):
                        busy.sendall(b"x")
                except OSError as e:
                    errors.append(e)

            talker = threading.Thread(target=chatter)
            talker.start()
            try:
                start = time.monotonic()
                how, _, _ = wait_closed(idle, scaled(5))
                elapsed = time.monotonic() - start
                time.sleep(1.5)  # another period or more for the busy one
            finally:
                stop.set()
                talker.join()
            assert how in ("eof", "reset"), how
            assert 0.9 <= elapsed <= scaled(3.5), elapsed
            assert not errors, errors
            # At the destination: the idle tunnel ended, the busy one is still open.
            assert server.wait_finished(1, scaled(2))
            assert sum(1 for r in server.records if r["finished"]) == 1, server.records
        s = gw.wait_stats(lambda s: s["tunnel_inactivity_timeouts"] >= 1)
        assert s["tunnel_inactivity_timeouts"] == 1


def test_unreachable_tunnel_destination_closes_the_client_and_counts(gateway):
    """A tunnel_route to a port nobody listens on: the client's connection is closed (no
    TLS alert is ours to send: TLS was never terminated) and upstream_connect_failure
    counts."""
    gw = tunnel_gateway(gateway, f"127.0.0.1:{closed_port()}")
    with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as c:
        c.sendall(client_hello_bytes("tunnel.test"))
        how, _, data = wait_closed(c, scaled(5))
        assert how in ("eof", "reset"), how
        assert data == b""
    s = gw.wait_stats(lambda s: s["upstream_connect_failure"] >= 1)
    assert s["upstream_connect_failure"] == 1


def test_passthrough_tunnels_plain_bytes_to_the_proxy_header_destination(gateway):
    """S9 on an ordinary listener: behind a PROXY header, the original destination is the
    header's; a first byte that is not TLS makes the connection a blind tunnel there, and
    the bytes (not the header) arrive untouched."""
    def destination(conn: socket.socket, record: dict) -> None:
        record["request"] = conn.recv(65536)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with TcpServer(destination) as server:
        gw = gateway(listeners=[{"listen": "127.0.0.1:0", "passthrough": True,
                                 "proxy_protocol": True, "proxy_protocol_from": ["127.0.0.1"]}])
        header = f"PROXY TCP4 192.0.2.7 127.0.0.1 40000 {server.port}\r\n".encode()
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as c:
            c.sendall(header + b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.endswith(b"\r\n\r\nok"), answer
        assert server.wait_finished(1, scaled(5))
        assert server.records[0]["request"] == b"GET / HTTP/1.0\r\n\r\n"
        s = gw.stats()
        assert s["passthrough_tunnels"] == 1
        assert s["proxy_protocol_accepted"] == 1


def test_passthrough_still_terminates_tls(gateway, pki):
    """S9 only diverts what is not TLS: a TLS client on the same pass-through listener is
    terminated as usual."""
    gw = gateway(listeners=[{"listen": "127.0.0.1:0", "passthrough": True}])
    result = inspect(gw.port, client_context(pki.ca), "a.test")
    assert result.json["sni"] == "a.test"
    assert gw.stats()["passthrough_tunnels"] == 0


def test_tunnel_to_the_original_destination_on_an_ordinary_listener_is_refused(gateway):
    """S9 with neither TPROXY nor a PROXY header: the original destination is tlsgate
    itself, so the connection is closed (with a warning) instead of looping."""
    gw = gateway(listeners=[{"listen": "127.0.0.1:0", "passthrough": True}])
    with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        how, _, data = wait_closed(c, scaled(5))
        assert how in ("eof", "reset") and data == b"", (how, data)
    # The warning is written before the close, but read from tlsgate's stderr by another
    # thread: wait for it.
    deadline = time.monotonic() + scaled(5)
    while not any("a transparent listener or a PROXY header is needed" in l for l in gw.lines):
        assert time.monotonic() < deadline, gw.stderr_text()
        time.sleep(0.05)


def test_client_silent_before_the_proxy_header_is_closed_by_the_handshake_clock(gateway):
    """S1's clock covers what comes before TLS: a client that never sends its PROXY header
    is closed after handshake_timeout_in and counted as a handshake timeout."""
    gw = gateway(handshake_timeout=1,
                 listeners=[{"listen": "127.0.0.1:0", "proxy_protocol": True,
                             "proxy_protocol_from": ["127.0.0.1"]}])
    with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as c:
        c.sendall(b"PROXY TCP4 ")  # a start, never finished
        how, elapsed, data = wait_closed(c, scaled(5))
        assert how in ("eof", "reset") and data == b"", (how, data)
        assert 0.9 <= elapsed <= scaled(3), elapsed
    s = gw.wait_stats(lambda s: s["ssl_handshake_timeout"] >= 1)
    assert s["ssl_handshake_timeout"] == 1
    assert s["proxy_protocol_accepted"] == 0
