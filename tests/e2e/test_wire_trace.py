"""S21 wire trace: `ssl.wire_trace` filters (client_ip, server_name, percentage) choose the
connections whose every TLS message, in and out, is logged with the client's address and
port — `tlsgate: wire_trace 127.0.0.1:53544 -> ServerHello (90 bytes)`.

The client is Python's ssl with a message callback, so the test knows each handshake
message it sent and received, with its length: tlsgate's trace must name the same messages
with the same lengths, in the other direction.
"""

from __future__ import annotations

import re
import socket
import ssl
import time

import pytest

from conftest import Gateway, scaled
from ja4 import ja4
from tlsclient import client_context
from upstreams import OriginServer

HANDSHAKE = 22
# OpenSSL's names as the trace prints them, by handshake message type.
NAMES = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 8: "EncryptedExtensions",
         11: "Certificate", 12: "ServerKeyExchange", 14: "ServerHelloDone",
         15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished"}


def traced_visit(gw: Gateway, pki, sni: str, *, source: str = "127.0.0.1",
                 max_version: ssl.TLSVersion | None = None) -> tuple[int, list[str]]:
    """One TLS connection from `source` to tlsgate with `sni` and one request to
    builtin:inspect. Returns the client's port and the handshake messages as tlsgate must
    trace them ("<- ClientHello (517 bytes, ja4 t13d...)": what the client wrote, tlsgate
    read; the first ClientHello with its JA4 as the tests compute it, ja4.py)."""
    ctx = client_context(pki.ca, check_hostname=False, max_version=max_version)
    seen: list[str] = []

    def on_message(_conn, direction, _version, content_type, _msg_type, data):
        if content_type == HANDSHAKE and data and data[0] in NAMES:
            arrow = "<-" if direction == "write" else "->"
            fingerprint = ""
            if data[0] == 1 and not any("ClientHello" in m for m in seen):
                fingerprint = f", ja4 {ja4(bytes(data))}"
            seen.append(f"{arrow} {NAMES[data[0]]} ({len(data)} bytes{fingerprint})")

    ctx._msg_callback = on_message  # CPython's hook onto SSL_set_msg_callback
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(scaled(10))
    raw.bind((source, 0))
    raw.connect(("127.0.0.1", gw.port))
    port = raw.getsockname()[1]
    with ctx.wrap_socket(raw, server_hostname=sni) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while tls.recv(65536):
            pass
    return port, seen


def trace_lines(gw: Gateway, who: str) -> list[str]:
    """The wire_trace lines of `who` ("127.0.0.1:PORT"), without the prefix."""
    prefix = f"tlsgate: wire_trace {who} "
    return [l[len(prefix):] for l in list(gw.lines) if l.startswith(prefix)]


def wait_trace(gw: Gateway, who: str, last: str, messages: int = 0,
               timeout: float = 5.0) -> list[str]:
    """The trace of `who` once a line starting with `last` and at least `messages` message
    lines are in it (or the timeout): stderr is read by another thread."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        lines = trace_lines(gw, who)
        if (any(l.startswith(last) for l in lines) and len(message_lines(lines)) >= messages) \
                or time.monotonic() >= deadline:
            return lines
        time.sleep(0.05)


def message_lines(lines: list[str]) -> list[str]:
    return [l for l in lines if l.startswith(("-> ", "<- ")) and "ChangeCipherSpec" not in l]


def any_trace(gw: Gateway) -> list[str]:
    # Trace lines only: other lines may name files under this test's tmp_path, whose name
    # has "wire_trace" in it.
    return [l for l in list(gw.lines) if l.startswith("tlsgate: wire_trace ")]


def assert_traced(gw: Gateway, port: int, client_saw: list[str], source: str = "127.0.0.1"):
    who = f"{source}:{port}"
    lines = wait_trace(gw, who, "handshake done", len(client_saw))
    assert lines, f"no wire_trace line for {who}:\n{gw.stderr_text()}"
    assert lines[0] == "begins (local 127.0.0.1:%d)" % gw.port, lines
    # Every handshake message the client saw, in order, with its length, seen from tlsgate.
    assert message_lines(lines)[:len(client_saw)] == client_saw, lines
    assert re.fullmatch(r"<- ClientHello \(\d+ bytes, ja4 t1[23]d\w+\)", client_saw[0])
    assert any(l.startswith("-> ServerHello (") for l in lines), lines
    assert sum(l.startswith(("-> Finished (", "<- Finished (")) for l in lines) == 2, lines
    assert any(l.startswith("state: ") for l in lines), lines
    assert any(re.fullmatch(r"handshake done: TLSv1\.[23] \S+", l) for l in lines), lines


def test_server_name_filter_traces_the_matching_connection_only(gateway, pki):
    """S21: client_ip and server_name both given; the ClientHello, read before the name is
    known, is in the trace of the connection that matched, and nothing of the other."""
    gw = gateway(extra_ssl_yaml="wire_trace: {client_ip: 127.0.0.1, server_name: A.test}")
    port, saw = traced_visit(gw, pki, "a.test")
    other, _ = traced_visit(gw, pki, "b.test")
    assert_traced(gw, port, saw)
    # Both connections are over; the second left no line at all.
    assert trace_lines(gw, f"127.0.0.1:{other}") == []
    assert all(f":{other} " not in l for l in any_trace(gw)), any_trace(gw)


def test_tls12_handshake_is_traced_too(gateway, pki):
    gw = gateway(extra_ssl_yaml="wire_trace: {server_name: a.test}")
    port, saw = traced_visit(gw, pki, "a.test", max_version=ssl.TLSVersion.TLSv1_2)
    assert_traced(gw, port, saw)
    assert "-> ServerHelloDone (4 bytes)" in saw
    assert "handshake done: TLSv1.2 " in " ".join(trace_lines(gw, f"127.0.0.1:{port}"))


def test_client_ip_filter(gateway, pki):
    """S21: only clients in client_ip (the loopback answers from any 127/8 source)."""
    gw = gateway(extra_ssl_yaml="wire_trace: {client_ip: 127.0.0.2}")
    other, _ = traced_visit(gw, pki, "a.test", source="127.0.0.1")
    port, saw = traced_visit(gw, pki, "a.test", source="127.0.0.2")
    assert_traced(gw, port, saw, source="127.0.0.2")
    assert all("127.0.0.1:%d " % other not in l for l in any_trace(gw)), any_trace(gw)


def test_percentage_zero_traces_nothing(gateway, pki):
    gw = gateway(extra_ssl_yaml="wire_trace: {client_ip: 127.0.0.1, percentage: 0}")
    for _ in range(5):
        traced_visit(gw, pki, "a.test")
    gw.wait_stats(lambda s: s.get("connections_active") == 0)
    assert any_trace(gw) == []


def test_no_wire_trace_key_traces_nothing(gateway, pki):
    gw = gateway()
    traced_visit(gw, pki, "a.test")
    gw.wait_stats(lambda s: s.get("connections_active") == 0)
    assert any_trace(gw) == []


def test_origin_handshake_of_a_traced_connection_is_traced(gateway, pki):
    """S21 on the client role: the re-encrypted connection's handshake with the origin is in
    the trace, named by the client and the origin."""
    with OriginServer(pki.crt("a"), pki.key("a")) as origin:
        gw = gateway(route=f"{{upstream: {origin.address}, tls: true, sni: a.test}}",
                     extra_ssl_yaml="wire_trace: {server_name: a.test}\n"
                                    "client: {ca_certs: origin-ca.crt}",
                     files={"origin-ca.crt": pki.ca.read_text()})
        ctx = client_context(pki.ca, check_hostname=False)
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as raw:
            port = raw.getsockname()[1]
            with ctx.wrap_socket(raw, server_hostname="a.test") as tls:
                hello = b""
                while not hello.endswith(b"\n"):
                    chunk = tls.recv(4096)
                    assert chunk, "the origin's line never arrived"
                    hello += chunk
        who = f"127.0.0.1:{port} origin {origin.address}"
        lines = wait_trace(gw, who, "handshake done")
        assert lines and lines[0] == "begins", f"no origin trace:\n{gw.stderr_text()}"
        msgs = message_lines(lines)
        assert msgs[0].startswith("-> ClientHello ("), lines
        assert msgs[1].startswith("<- ServerHello ("), lines
        assert any(m.startswith("<- Certificate (") for m in msgs), lines
        assert sum(m.startswith(("-> Finished (", "<- Finished (")) for m in msgs) == 2, lines
        assert any(l.startswith("handshake done: TLSv1.3 ") for l in lines), lines
