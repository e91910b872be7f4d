"""Helpers for the admin endpoint tests: find its port, make requests, parse /metrics,
and the connections of a known traffic sequence (terminated, unknown SNI, failed, tunnel)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time

from conftest import scaled
from tlsclient import client_context, client_hello_bytes, inspect
from upstreams import TcpServer, _recv_exact

ADMIN_RE = re.compile(r"^tlsgate: admin endpoint on http://127\.0\.0\.1:(\d+)$")
TUNNEL_REPLY = b"hello from the destination\n"


def admin_yaml(extra: str = "") -> str:
    return "admin:\n  listen: 127.0.0.1:0\n" + extra


def admin_port(gw) -> int:
    for line in gw.lines:
        m = ADMIN_RE.match(line)
        if m:
            return int(m.group(1))
    raise AssertionError("no admin endpoint line:\n" + gw.stderr_text())


def request(gw, method: str, path: str, body: bytes | None = None):
    """(status, headers, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", admin_port(gw), timeout=scaled(10))
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def get_json(gw, path: str) -> dict:
    status, _, body = request(gw, "GET", path)
    assert status == 200, (status, body)
    return json.loads(body)


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """{(name, frozenset(labels.items())): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL_RE.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(samples: dict, name: str, **labels) -> float:
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels}"
    return samples[key]


def wait_closed_total(gw, total: int, timeout: float = 10.0) -> dict:
    """Polls /stats until the listeners' closed connections add up to `total`."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        stats = get_json(gw, "/stats")
        closed = sum(sum(l["closed"].values()) for l in stats["listeners"])
        if closed >= total or time.monotonic() > deadline:
            assert closed == total, stats
            return stats
        time.sleep(0.05)


def tunnel_destination() -> TcpServer:
    """Reads the replayed ClientHello, answers one line, closes."""
    hello = client_hello_bytes("tunnel.test")

    def handler(conn: socket.socket, record: dict) -> None:
        record["hello"] = _recv_exact(conn, len(hello))
        conn.sendall(TUNNEL_REPLY)

    return TcpServer(handler)


def tunnel_sni_yaml(port: int) -> str:
    return f"sni:\n  - fqdn: tunnel.test\n    tunnel_route: 127.0.0.1:{port}\n"


def terminated(gw, pki, sni: str = "a.test"):
    return inspect(gw.port, client_context(pki.ca, alpn=["http/1.1"]), sni)


def unknown_sni(gw, pki):
    """Served by the default certificate: the client does not check the name."""
    return inspect(gw.port, client_context(pki.ca, check_hostname=False), "unknown.test")


def garbage(gw) -> None:
    """Bytes that are not TLS: the handshake fails (ssl_error_ssl); waits for the close."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        while s.recv(4096):
            pass


def tunnel(gw) -> bytes:
    """A ClientHello for tunnel.test, then reads what the destination answers until EOF."""
    hello = client_hello_bytes("tunnel.test")
    got = b""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as s:
        s.sendall(hello)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    assert got == TUNNEL_REPLY
    return hello
