"""ALPN by server preference, negotiated parameters, success counters (S14, S20)."""

from __future__ import annotations

import json
import re
import ssl

from conftest import scaled
from tlsclient import HOST, client_context, http_get, inspect, s_client, tls_connect


def _alpn(r) -> str | None:
    if re.search(r"^No ALPN negotiated", r.out, re.M):
        return None
    return r.field(r"^ALPN protocol: (\S+)")


def test_alpn_server_preference_http11_first(gateway, pki):
    """S14: ALPN follows the server's order: config [http/1.1, h2], client offers
    h2,http/1.1 → http/1.1."""
    gw = gateway(alpn=["http/1.1", "h2"])
    r = s_client(gw.port, "-alpn", "h2,http/1.1", "-CAfile", str(pki.ca), sni="a.test",
                 timeout=scaled(20))
    assert r.handshake_ok, r.out
    assert _alpn(r) == "http/1.1", r.out


def test_alpn_server_preference_h2_first(gateway, pki):
    """S14: config [h2, http/1.1], client offers http/1.1,h2 → h2 (server order wins)."""
    gw = gateway(alpn=["h2", "http/1.1"])
    r = s_client(gw.port, "-alpn", "http/1.1,h2", "-CAfile", str(pki.ca), sni="a.test",
                 timeout=scaled(20))
    assert r.handshake_ok, r.out
    assert _alpn(r) == "h2", r.out


def test_alpn_nothing_in_common_still_handshakes(gateway, pki):
    """S14: a client offering only unknown protocols gets no ALPN; the handshake succeeds
    and the connection goes to the default endpoint."""
    gw = gateway(alpn=["http/1.1"])
    r = s_client(gw.port, "-alpn", "spdy/1,foo", "-CAfile", str(pki.ca), sni="a.test",
                 timeout=scaled(20))
    assert r.handshake_ok, r.out
    assert _alpn(r) is None, r.out
    # And Python: offering only an unknown protocol still reaches inspect.
    ctx = client_context(pki.ca, alpn=["foo/1"])
    res = inspect(gw.port, ctx, "a.test")
    assert res.status == 200 and res.json["alpn"] is None


def test_inspect_reports_negotiation(inspect_gw, pki):
    """S14: the inspect endpoint reports what was negotiated, as the client saw it."""
    ctx = client_context(pki.ca, alpn=["http/1.1"])
    with tls_connect(inspect_gw.port, ctx, "a.test") as s:
        status, _, body = http_get(s, "a.test")
        assert status == 200
        j = json.loads(body)
        assert j["sni"] == "a.test"
        assert j["alpn"] == "http/1.1" == s.selected_alpn_protocol()
        assert j["version"] == s.version() == "TLSv1.3"
        assert j["cipher"] == s.cipher()[0]
        host, port = s.getsockname()
        assert j["client"] == f"{host}:{port}"
        assert j["local"] == f"{HOST}:{inspect_gw.port}"
        assert isinstance(j["handshake_ms"], (int, float)) and 0 <= j["handshake_ms"] < 10000
        assert j["resumed"] is False
        assert j["certificate"]["subject"] == pki.subject("a")
        assert j["certificate"]["sha256"] == pki.fingerprint("a")
        # Keep-alive: a second request on the same connection.
        status, _, body = http_get(s, "a.test", "/again", close=True)
        assert status == 200 and json.loads(body)["client"] == j["client"]
    # TLS 1.2 reported as such, without ALPN.
    ctx = client_context(pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
    with tls_connect(inspect_gw.port, ctx, "a.test") as s:
        status, _, body = http_get(s, "a.test", close=True)
        j = json.loads(body)
        assert j["version"] == s.version() == "TLSv1.2"
        assert j["cipher"] == s.cipher()[0]
        assert j["alpn"] is None


def test_inspect_reports_group(inspect_gw, pki):
    """S14: the key-exchange group in inspect's answer is the one the client forced."""
    req = b"GET / HTTP/1.1\nHost: a.test\nConnection: close\n\n"
    for group, expected in (("X25519", {"x25519"}),
                            ("P-256", {"secp256r1", "prime256v1", "p-256"})):
        r = s_client(inspect_gw.port, "-groups", group, "-crlf", "-ign_eof", "-quiet",
                     sni="a.test", stdin=req, timeout=scaled(20))
        assert "HTTP/1.1 200" in r.out, r.out
        body = r.out[r.out.index("\r\n\r\n") + 4:]
        j, _ = json.JSONDecoder().raw_decode(body[body.index("{"):])
        assert j["group"] in expected, r.out


def test_success_counters(inspect_gw, pki):
    """S14/S20: each completed handshake adds to the success count and to the total
    handshake time; accepted connections are counted; nothing stays active."""
    before = inspect_gw.stats()
    ctx = client_context(pki.ca)
    for _ in range(3):
        assert inspect(inspect_gw.port, ctx, "a.test").status == 200
    s = inspect_gw.wait_stats(lambda s: s["connections_active"] == 0
                              and s["ssl_total_success_handshake_count_in"] >= 3)
    assert s["ssl_total_success_handshake_count_in"] - \
        before["ssl_total_success_handshake_count_in"] == 3, s
    assert s["ssl_handshake_attempts_in"] - before["ssl_handshake_attempts_in"] == 3, s
    assert s["connections_accepted"] - before["connections_accepted"] == 3, s
    assert s["ssl_total_handshake_time_us"] > before["ssl_total_handshake_time_us"], s
    assert s["inspect_requests"] - before["inspect_requests"] == 3, s
    assert s["connections_active"] == 0, s
    for k in ("ssl_error_ssl", "ssl_error_syscall", "ssl_handshake_timeout",
              "ssl_handshake_eof", "ssl_no_certificate"):
        assert s[k] == 0, (k, s)
