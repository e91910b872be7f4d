"""Failed and refused handshakes: timeout, EOF, garbage, renegotiation, old versions
(S1, S4, S8, S12, S20)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import free_port, scaled
from tlsclient import (HOST, client_context, client_hello_bytes, inspect, is_tls_alert,
                       s_client, wait_closed)


def _assert_still_serving(gw, pki) -> None:
    ctx = client_context(pki.ca)
    r = inspect(gw.port, ctx, "a.test")
    assert r.status == 200 and r.json["sni"] == "a.test"


def test_handshake_timeout_idle_client(gateway, pki):
    """S1/S4: handshake_timeout_in: 1 and a TCP client that sends nothing: the server
    closes it after about a second and counts ssl_handshake_timeout."""
    gw = gateway(handshake_timeout=1)
    with socket.create_connection((HOST, gw.port), timeout=10) as s:
        how, elapsed, data = wait_closed(s, timeout=scaled(6))
    assert how in ("eof", "reset"), f"not closed after {elapsed:.1f}s"
    assert elapsed >= 0.8, f"closed after {elapsed:.2f}s, before the 1 s timeout"
    assert elapsed <= scaled(3), f"closed after {elapsed:.2f}s"
    s = gw.wait_stats(lambda s: s["ssl_handshake_timeout"] >= 1)
    assert s["ssl_handshake_timeout"] == 1, s
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    _assert_still_serving(gw, pki)


def test_handshake_timeout_not_extended_by_traffic(gateway, pki):
    """S1: traffic during the handshake does not extend the timeout: a client dribbling
    one byte of a real ClientHello every 0.3 s is still closed after about a second."""
    gw = gateway(handshake_timeout=1)
    hello = client_hello_bytes("a.test")
    start = time.monotonic()
    closed_at = None
    sent = 0
    with socket.create_connection((HOST, gw.port), timeout=10) as s:
        deadline = start + scaled(6)
        while time.monotonic() < deadline and sent < len(hello) - 1:
            try:
                s.send(hello[sent:sent + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
            how, _, _ = wait_closed(s, timeout=0.3)
            s.setblocking(True)
            if how != "timeout":
                closed_at = time.monotonic()
                break
    assert closed_at is not None, f"still open after {sent} bytes / {scaled(6)} s"
    elapsed = closed_at - start
    assert 0.8 <= elapsed <= scaled(3), f"closed after {elapsed:.2f}s ({sent} bytes sent)"
    s = gw.wait_stats(lambda s: s["ssl_handshake_timeout"] >= 1)
    assert s["ssl_handshake_timeout"] == 1, s


def test_handshake_timeout_zero_means_none(gateway, pki):
    """S1: handshake_timeout_in: 0 = no timeout: an idle client is still connected after
    2.5 s, and can then complete its handshake."""
    gw = gateway(handshake_timeout=0)
    with socket.create_connection((HOST, gw.port), timeout=10) as raw:
        how, elapsed, _ = wait_closed(raw, timeout=2.5)
        assert how == "timeout", f"closed ({how}) after {elapsed:.2f}s"
        raw.setblocking(True)
        ctx = client_context(pki.ca)
        with ctx.wrap_socket(raw, server_hostname="a.test") as s:
            assert s.version() in ("TLSv1.2", "TLSv1.3")
    assert gw.stats()["ssl_handshake_timeout"] == 0


def test_half_client_hello_then_close_counts_eof(gateway, pki):
    """S8/S4: half of a real ClientHello, then the client closes: handshake EOF is counted
    (ssl_handshake_eof), not a timeout."""
    gw = gateway(handshake_timeout=30)
    hello = client_hello_bytes("a.test")
    with socket.create_connection((HOST, gw.port), timeout=10) as s:
        s.sendall(hello[: len(hello) // 2])
        time.sleep(0.2)
    s = gw.wait_stats(lambda s: s["ssl_handshake_eof"] >= 1)
    assert s["ssl_handshake_eof"] == 1, s
    assert s["ssl_handshake_timeout"] == 0, s
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    _assert_still_serving(gw, pki)


def test_plaintext_http_on_tls_port(inspect_gw, pki):
    """S4: plaintext on the TLS port is a protocol error: the connection is closed cleanly
    (EOF or a TLS alert, no hang), ssl_error_ssl counts, and the server keeps serving."""
    gw = inspect_gw
    with socket.create_connection((HOST, gw.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        how, elapsed, data = wait_closed(s, timeout=scaled(5))
    assert how != "timeout", "connection left open after plaintext garbage"
    assert data == b"" or is_tls_alert(data), f"unexpected answer {data[:64]!r}"
    s = gw.wait_stats(lambda s: s["ssl_error_ssl"] >= 1)
    assert s["ssl_error_ssl"] >= 1, s
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    _assert_still_serving(gw, pki)


_RENEG_STDIN_DELAY = 1.5


def _renegotiate_with_s_client(port: int, ca) -> tuple[str, int]:
    """openssl s_client -tls1_2: 'R' (renegotiate), then an HTTP request. Returns the
    output and the number of ServerHello messages received (2 = renegotiated).

    stdin stays open until the answer came or s_client ended: s_client quits at stdin EOF
    (and -ign_eof would disable the 'R' command)."""
    cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-servername", "a.test",
           "-tls1_2", "-crlf", "-msg", "-CAfile", str(ca)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    chunks: list[bytes] = []

    def reader():
        assert p.stdout is not None
        for line in p.stdout:
            chunks.append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        assert p.stdin is not None
        p.stdin.write(b"R\n")
        p.stdin.flush()
        time.sleep(scaled(_RENEG_STDIN_DELAY))
        try:
            p.stdin.write(b"GET / HTTP/1.1\nHost: a.test\nConnection: close\n\n")
            p.stdin.flush()
        except BrokenPipeError:
            pass  # s_client already gave up: the renegotiation failed
        deadline = time.monotonic() + scaled(10)
        while p.poll() is None and time.monotonic() < deadline:
            if b'"sni"' in b"".join(chunks):
                break
            time.sleep(0.05)
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        p.wait(scaled(10))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        t.join(5)
    text = b"".join(chunks).decode(errors="replace")
    hellos = sum(1 for line in text.splitlines()
                 if line.startswith("<<<") and line.rstrip().endswith("ServerHello"))
    return text, hellos


def test_client_renegotiation_refused(gateway, pki):
    """S12: client-initiated TLS 1.2 renegotiation is refused by default: no second
    ServerHello, no answer afterwards, ssl_renegotiation_refused counts."""
    gw = gateway(allow_client_renegotiation=False)
    out, hellos = _renegotiate_with_s_client(gw.port, pki.ca)
    assert "RENEGOTIATING" in out, out
    assert hellos == 1, f"server answered the renegotiation ({hellos} ServerHello):\n{out}"
    assert "HTTP/1.1 200" not in out, out
    s = gw.wait_stats(lambda s: s["ssl_renegotiation_refused"] >= 1)
    assert s["ssl_renegotiation_refused"] == 1, s
    _assert_still_serving(gw, pki)


def test_client_renegotiation_allowed_when_configured(gateway, pki):
    """S12: with allow_client_renegotiation: true the same renegotiation succeeds and the
    connection keeps working (the request after it is answered)."""
    gw = gateway(allow_client_renegotiation=True)
    out, hellos = _renegotiate_with_s_client(gw.port, pki.ca)
    assert "RENEGOTIATING" in out, out
    assert hellos == 2, f"renegotiation did not happen ({hellos} ServerHello):\n{out}"
    assert "HTTP/1.1 200" in out, out
    assert gw.stats()["ssl_renegotiation_refused"] == 0


def test_protocols_tls13_only(gateway, pki):
    """protocols: [TLSv1.3]: a TLS 1.2-only client is refused, a TLS 1.3 client served."""
    gw = gateway(protocols=["TLSv1.3"])
    ctx12 = client_context(pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ssl.SSLError):
        inspect(gw.port, ctx12, "a.test")
    r = inspect(gw.port, client_context(pki.ca), "a.test")
    assert r.version == "TLSv1.3" and r.json["version"] == "TLSv1.3"
    s = gw.wait_stats(lambda s: s["ssl_error_ssl"] >= 1)
    assert s["ssl_error_ssl"] == 1 and s["ssl_total_success_handshake_count_in"] == 1, s


def test_old_tls_versions_refused(inspect_gw, pki):
    """Configured protocols [TLSv1.2, TLSv1.3]: TLS 1.0 and 1.1 clients are refused.

    The client is allowed to speak them (SECLEVEL=0); a control run against an
    `openssl s_server -tls1_1` shows the same command succeeds where 1.1 is offered."""
    ok = None
    for _ in range(5):
        port = free_port()
        control = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"{HOST}:{port}", "-naccept", "1", "-www",
             "-cert", str(pki.crt("a")), "-key", str(pki.key("a")), "-tls1_1",
             "-cipher", "DEFAULT@SECLEVEL=0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert control.stdout is not None
            first = control.stdout.readline().decode(errors="replace")
            while first and not first.startswith("ACCEPT"):
                first = control.stdout.readline().decode(errors="replace")
            if not first:
                continue  # could not bind: try another port
            ok = s_client(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", sni="a.test",
                          timeout=scaled(20))
            break
        finally:
            if control.poll() is None:
                control.kill()
            control.wait()
    assert ok is not None, "control s_server did not start"
    assert ok.handshake_ok and "Protocol  : TLSv1.1" in ok.out, ok.out
    for version in ("-tls1_1", "-tls1"):
        r = s_client(inspect_gw.port, version, "-cipher", "DEFAULT@SECLEVEL=0", sni="a.test",
                     timeout=scaled(20))
        assert not r.handshake_ok, r.out
        assert not r.certs_pem, r.out
    s = inspect_gw.wait_stats(lambda s: s["ssl_error_ssl"] >= 2)
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    assert s["ssl_error_ssl"] >= 2, s
