"""Helpers for the admission control tests (test_admission*.py): clients that connect from
a chosen source address on loopback (Linux routes all of 127/8 to lo, so 127.0.0.3 and
127.0.0.4 are two sources to tlsgate), the `admission:` section, and what a client saw."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from conftest import scaled
from tlsclient import HOST, client_context, client_hello_bytes, http_get, wait_closed

LOG_YAML = "access_log:\n  path: access.log\n"
ALERT_ACCESS_DENIED = 49


def admission_yaml(*rules: str, **settings) -> str:
    """The `admission:` section: settings (max_handshakes=3, shed="{...}") as they are
    written, and rules as YAML flow mappings ("{source: 127.0.0.3, action: deny}")."""
    out = ["admission:"] + [f"  {k}: {v}" for k, v in settings.items()]
    if rules:
        out += ["  rules:"] + [f"    - {r}" for r in rules]
    return "\n".join(out) + "\n"


def yaml_line(gw, text: str) -> int:
    """The line of tlsgate.yaml (1-based) that contains `text`."""
    lines = gw.yaml_text().splitlines()
    [n] = [i + 1 for i, l in enumerate(lines) if text in l]
    return n


def ctx_for(pki, alpn=("http/1.1",), **kw) -> ssl.SSLContext:
    """A client context trusting the test CA, offering `alpn` (None: no ALPN)."""
    return client_context(pki.ca, alpn=list(alpn) if alpn else None, **kw)


def connect_from(port: int, source: str, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=scaled(timeout),
                                    source_address=(source, 0))


@dataclass
class Attempt:
    """What a TLS client saw: "served" (the handshake and an HTTP answer), "closed" (the
    connection ended without a TLS alert) or "alert: <OpenSSL's reason>"."""
    outcome: str
    session: ssl.SSLSession | None = None
    reused: bool = False
    body: bytes = b""
    client_port: int = 0

    @property
    def served(self) -> bool:
        return self.outcome == "served"


def attempt(port: int, source: str, ctx: ssl.SSLContext, sni: str | None = "a.test",
            session: ssl.SSLSession | None = None) -> Attempt:
    """One TLS connection from `source` and one GET to builtin:inspect."""
    raw = connect_from(port, source)
    client_port = raw.getsockname()[1]
    try:
        with ctx.wrap_socket(raw, server_hostname=sni, session=session) as s:
            status, _, body = http_get(s, sni or HOST, close=True)
            assert status == 200, status
            # TLS 1.3: the ticket came after the handshake; reading the answer took it.
            return Attempt("served", s.session, s.session_reused, body, client_port)
    except ssl.SSLError as e:
        if "ALERT" in (e.reason or ""):
            return Attempt(f"alert: {e.reason}", client_port=client_port)
        if isinstance(e, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return Attempt("closed", client_port=client_port)
        raise
    except (ConnectionResetError, BrokenPipeError):
        return Attempt("closed", client_port=client_port)
    finally:
        raw.close()


def hello_answer(port: int, source: str, sni: str = "a.test") -> tuple[str, bytes]:
    """Sends a ClientHello from `source`; returns how the connection ended ("eof",
    "reset", "timeout") and every byte tlsgate sent back."""
    with connect_from(port, source) as s:
        try:
            s.sendall(client_hello_bytes(sni))
        except (ConnectionResetError, BrokenPipeError):
            return "reset", b""
        how, _, data = wait_closed(s, scaled(10))
        return how, data


def closed_at_once(sock: socket.socket) -> bool:
    """Whether tlsgate closes a connection that sent nothing, without a byte: a refusal
    at accept. A served connection waits for its ClientHello (the timeout here is short
    and only taken when the test is about to fail)."""
    how, _, data = wait_closed(sock, scaled(5))
    return how in ("eof", "reset") and data == b""


def hold_idle(port: int, source: str, count: int) -> list[socket.socket]:
    """`count` TCP connections from `source` that send nothing (slowloris)."""
    return [connect_from(port, source) for _ in range(count)]


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


def wait_gauge(gw, name: str, value: int, timeout: float = 10.0) -> dict:
    """Polls the stats until the gauge (or counter) `name` is `value`; asserts it got there."""
    stats = gw.wait_stats(lambda s: s[name] == value, timeout=timeout)
    assert stats[name] == value, (name, value, stats)
    return stats


def settle(seconds: float) -> None:
    """Lets a token bucket refill; generous, scaled for sanitizer builds."""
    time.sleep(scaled(seconds))
