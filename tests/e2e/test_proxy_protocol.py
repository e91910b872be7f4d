"""PROXY protocol (HAProxy's v1 text and v2 binary headers), both ways.

In: a listener with `proxy_protocol: true` reads a header before the ClientHello, only from
the sources in `proxy_protocol_from`; the header's addresses become the connection's client
and destination (builtin:inspect reports them; the dest_ip certificate lookup uses the
destination). Out: `send_proxy_protocol: v1|v2` (routes: or an sni.yaml item) writes a
header to the upstream first; v2 carries the ALPN, AUTHORITY (the SNI) and SSL TLVs.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import struct

import pytest

from conftest import scaled
from tlsclient import (BioTls, HOST, client_context, client_hello_bytes, http_get,
                       tls_connect, wait_closed)
from upstreams import (PP2_CLIENT_SSL, PP2_SUBTYPE_SSL_CIPHER, PP2_SUBTYPE_SSL_VERSION,
                       PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_SSL, PROXY_V2_SIGNATURE,
                       TcpServer, proxy_header_echo_handler)

PP2_TYPE_NOOP = 0x04


# --------------------------------------------------------------------------------------
# Headers as a load balancer in front of tlsgate writes them
# --------------------------------------------------------------------------------------

def proxy_v1(src: str, sport: int, dst: str, dport: int) -> bytes:
    return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()


def tlv(t: int, value: bytes) -> bytes:
    return bytes([t]) + struct.pack("!H", len(value)) + value


def proxy_v2(src: str, sport: int, dst: str, dport: int, tlvs: bytes = b"",
             ver_cmd: int = 0x21) -> bytes:
    """v2, command PROXY (0x21), TCP over IPv4 (0x11)."""
    body = (socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
            + tlvs)
    return PROXY_V2_SIGNATURE + bytes([ver_cmd, 0x11]) + struct.pack("!H", len(body)) + body


def pp_listener(allowed: list[str]) -> dict:
    return {"listen": "127.0.0.1:0", "proxy_protocol": True, "proxy_protocol_from": allowed}


def inspect_behind_proxy(port: int, header: bytes, ctx: ssl.SSLContext, sni: str | None,
                         one_segment: bool) -> tuple[dict, bytes]:
    """Sends `header`, then a TLS handshake and one GET to builtin:inspect. one_segment:
    the header and the ClientHello leave in one send (the parser must keep the bytes after
    the header); else the header is sent alone first. Returns (inspect's JSON, the peer
    certificate as DER)."""
    if not one_segment:
        raw = socket.create_connection((HOST, port), timeout=scaled(10))
        raw.sendall(header)
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            status, _, body = http_get(s, sni or HOST, close=True)
            assert status == 200, body
            return json.loads(body), s.getpeercert(binary_form=True)
    c = BioTls(port, ctx, sni, timeout=scaled(10))
    try:
        with pytest.raises(ssl.SSLWantReadError):
            c.obj.do_handshake()
        hello = c.out.read()
        c.sock.setblocking(True)
        c.sock.sendall(header + hello)
        c.sock.setblocking(False)
        c.handshake()
        der = c.obj.getpeercert(binary_form=True)
        req = f"GET / HTTP/1.1\r\nHost: {sni or HOST}\r\nConnection: close\r\n\r\n".encode()
        answer = c.exchange(req, 0, timeout=scaled(10)) + c.read_until_end(scaled(10))
    finally:
        c.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:200]
    return json.loads(body), der


def _refused_without_handshake(port: int, data: bytes) -> tuple[str, bytes]:
    """Sends `data` (the peer may close before it is all sent); returns how the connection
    ended and what came back."""
    with socket.create_connection((HOST, port), timeout=scaled(10)) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return "reset", b""
        how, _, got = wait_closed(s, timeout=scaled(10))
    return how, got


# --------------------------------------------------------------------------------------
# Inbound
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2])
def test_inbound_header_sets_client_and_destination(gateway, pki, version):
    """A v1 or v2 header from an allowed source (127.0.0.1): builtin:inspect reports the
    header's addresses, client 1.2.3.4:5555 and local 192.0.2.10:8443, not the socket's;
    proxy_protocol_accepted counts it. v1 is sent alone before the ClientHello; v2 (with a
    NOOP TLV to skip) shares one segment with the ClientHello."""
    gw = gateway(listeners=[pp_listener(["127.0.0.1"])])
    if version == 1:
        header = proxy_v1("1.2.3.4", 5555, "192.0.2.10", 8443)
    else:
        header = proxy_v2("1.2.3.4", 5555, "192.0.2.10", 8443, tlv(PP2_TYPE_NOOP, b"\0" * 3))
    j, _ = inspect_behind_proxy(gw.port, header, client_context(pki.ca), "a.test",
                                one_segment=(version == 2))
    assert j["sni"] == "a.test"
    assert j["client"] == "1.2.3.4:5555", j
    assert j["local"] == "192.0.2.10:8443", j
    s = gw.wait_stats(lambda s: s["proxy_protocol_accepted"] >= 1)
    assert s["proxy_protocol_accepted"] == 1, s
    assert s["proxy_protocol_refused"] == 0 and s["proxy_protocol_invalid"] == 0, s


def test_inbound_from_a_source_not_allowed_is_refused(gateway, pki):
    """proxy_protocol_from [10.0.0.0/8] and a client on 127.0.0.1: even with a well-formed
    header the connection is closed without any TLS answer (no ServerHello);
    proxy_protocol_refused counts it, no handshake is attempted."""
    gw = gateway(listeners=[pp_listener(["10.0.0.0/8"])])
    how, got = _refused_without_handshake(
        gw.port, proxy_v1("1.2.3.4", 5555, "192.0.2.10", 443) + client_hello_bytes("a.test"))
    assert how in ("eof", "reset"), how
    assert not got.startswith(b"\x16"), got[:32]
    s = gw.wait_stats(lambda s: s["proxy_protocol_refused"] >= 1)
    assert s["proxy_protocol_refused"] == 1, s
    assert s["proxy_protocol_accepted"] == 0, s
    assert s["ssl_handshake_attempts_in"] == 0, s
    assert s["ssl_total_success_handshake_count_in"] == 0, s


MALFORMED = {
    "v1-bad-address": b"PROXY TCP4 1.2.3.4 nonsense 5555 443\r\n",
    "v1-no-crlf": b"PROXY TCP4 1.2.3.4 192.0.2.10 5555 443\n",
    "v2-version-3": proxy_v2("1.2.3.4", 5555, "192.0.2.10", 443, ver_cmd=0x31),
    "v2-tlv-overruns": proxy_v2("1.2.3.4", 5555, "192.0.2.10", 443,
                                tlvs=bytes([PP2_TYPE_NOOP]) + struct.pack("!H", 50) + b"x"),
    "no-header": b"",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_inbound_malformed_header_is_counted(gateway, pki, case):
    """A malformed header (or none: a ClientHello straight away) from an allowed source:
    closed without any TLS answer, proxy_protocol_invalid counts it; the next, well-formed
    connection is served."""
    gw = gateway(listeners=[pp_listener(["127.0.0.1"])])
    how, got = _refused_without_handshake(gw.port,
                                          MALFORMED[case] + client_hello_bytes("a.test"))
    assert how in ("eof", "reset"), how
    assert not got.startswith(b"\x16"), got[:32]
    s = gw.wait_stats(lambda s: s["proxy_protocol_invalid"] >= 1)
    assert s["proxy_protocol_invalid"] == 1, s
    assert s["proxy_protocol_accepted"] == 0, s
    j, _ = inspect_behind_proxy(gw.port, proxy_v1("1.2.3.4", 5555, "192.0.2.10", 443),
                                client_context(pki.ca), "a.test", one_segment=False)
    assert j["client"] == "1.2.3.4:5555"


def test_dest_ip_certificate_follows_the_proxy_destination(gateway, pki):
    """The dest_ip lookup uses the header's destination: a client without SNI whose header
    says destination 10.1.2.3 gets b.crt (the `dest_ip=10.1.2.3` line); destination
    10.1.2.4 gets the default certificate. The socket's own destination (127.0.0.1) is
    the same for both."""
    gw = gateway(listeners=[pp_listener(["127.0.0.1"])], multicert=[
        "dest_ip=10.1.2.3 ssl_cert_name=b.crt ssl_key_name=b.key",
        "ssl_cert_name=a.crt ssl_key_name=a.key",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ])
    ctx = client_context(pki.ca, check_hostname=False)
    got = {}
    for dest in ("10.1.2.3", "10.1.2.4"):
        j, der = inspect_behind_proxy(gw.port, proxy_v2("1.2.3.4", 5555, dest, 443), ctx,
                                      None, one_segment=True)
        assert j["local"] == f"{dest}:443", j
        got[dest] = (j["certificate"]["sha256"], der)
    assert got["10.1.2.3"] == (pki.fingerprint("b"),
                               ssl.PEM_cert_to_DER_cert(pki.crt("b").read_text()))
    assert got["10.1.2.4"] == (pki.fingerprint("default"),
                               ssl.PEM_cert_to_DER_cert(pki.crt("default").read_text()))


# --------------------------------------------------------------------------------------
# Outbound
# --------------------------------------------------------------------------------------

def _ping_through(port: int, ctx: ssl.SSLContext, sni: str,
                  payload: bytes = b"ping after the header\n") -> dict:
    """One TLS connection that sends `payload` and reads its echo; returns what the client
    saw: its address, the negotiated version, cipher and ALPN."""
    with tls_connect(port, ctx, sni, timeout=scaled(10)) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            assert chunk, f"connection ended after {got!r}"
            got += chunk
        assert got == payload
        return {"addr": s.getsockname(), "version": s.version(), "cipher": s.cipher()[0],
                "alpn": s.selected_alpn_protocol()}


def test_send_proxy_v2_with_tlvs(gateway, pki):
    """routes: send_proxy_protocol: v2: the upstream first receives a v2 PROXY header
    (command PROXY, TCP over IPv4) with the client's address and port as source and
    tlsgate's listening address as destination, then the client's bytes, echoed back
    intact. TLVs: ALPN = http/1.1 (offered by the client), AUTHORITY = the SNI, SSL with the
    client-SSL flag and the sub-TLVs version (TLSv1.3) and cipher (as the client saw
    them)."""
    payload = b"ping after the header\n"
    with TcpServer(proxy_header_echo_handler) as up:
        gw = gateway(route=up.address, routes_yaml="send_proxy_protocol: v2",
                     alpn=["http/1.1"])
        seen = _ping_through(gw.port, client_context(pki.ca, alpn=["http/1.1"]), "a.test",
                             payload)
        assert up.wait_finished(1, scaled(5))
        assert not up.errors, up.errors
    assert seen["alpn"] == "http/1.1" and seen["version"] == "TLSv1.3", seen
    rec = up.records[0]
    h = rec["proxy"]
    assert h is not None, "the upstream's stream did not start with a PROXY header"
    assert (h["version"], h["command"], h["family"]) == (2, 1, 0x11), h
    assert h["source"] == seen["addr"], h
    assert h["destination"] == (HOST, gw.port), h
    assert h["alpn"] == "http/1.1", h
    assert h["authority"] == "a.test", h
    assert h["ssl"] is not None, f"no SSL TLV: types {h['tlv_types']}"
    assert h["ssl"]["client"] & PP2_CLIENT_SSL, h["ssl"]
    assert PP2_SUBTYPE_SSL_VERSION in h["ssl"]["subtypes"], h["ssl"]
    assert PP2_SUBTYPE_SSL_CIPHER in h["ssl"]["subtypes"], h["ssl"]
    assert h["ssl"]["version"] == "TLSv1.3", h["ssl"]
    assert h["ssl"]["cipher"] == seen["cipher"], h["ssl"]
    assert all(t in h["tlv_types"] for t in (PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_SSL))
    assert rec["received"] == len(payload), rec
    assert rec["sha256"] == hashlib.sha256(payload).hexdigest()


def test_send_proxy_v1(gateway, pki):
    """routes: send_proxy_protocol: v1 with routes.default to a recording upstream: the
    upstream's stream starts with exactly "PROXY TCP4 <client ip> <tlsgate ip> <client
    port> <tlsgate port>\\r\\n", then the client's bytes."""
    payload = b"ping after the v1 line\n"
    with TcpServer(proxy_header_echo_handler) as up:
        gw = gateway(route=up.address, routes_yaml="send_proxy_protocol: v1")
        seen = _ping_through(gw.port, client_context(pki.ca), "a.test", payload)
        assert up.wait_finished(1, scaled(5))
        assert not up.errors, up.errors
    rec = up.records[0]
    cip, cport = seen["addr"]
    assert rec["proxy"] is not None, "the upstream's stream did not start with a PROXY header"
    assert rec["proxy"]["line"] == f"PROXY TCP4 {cip} {HOST} {cport} {gw.port}\r\n", rec
    assert rec["received"] == len(payload), rec


def test_send_proxy_v2_per_sni_item(gateway, pki):
    """sni.yaml `send_proxy_protocol: v2` on pp.test's forward_route: that upstream gets a
    v2 header with AUTHORITY = pp.test (no ALPN TLV: nothing was negotiated); plain.test's
    forward_route to the same upstream, without the key, gets the client's bytes first,
    no header."""
    with TcpServer(proxy_header_echo_handler) as up:
        sni = ("sni:\n"
               f"  - fqdn: pp.test\n    forward_route: {up.address}\n"
               "    send_proxy_protocol: v2\n"
               f"  - fqdn: plain.test\n    forward_route: {up.address}\n")
        gw = gateway(extra_yaml="sni: sni.yaml", files={"sni.yaml": sni})
        ctx = client_context(pki.ca, check_hostname=False)
        seen = _ping_through(gw.port, ctx, "pp.test")
        assert up.wait_finished(1, scaled(5))
        _ping_through(gw.port, ctx, "plain.test")
        assert up.wait_finished(2, scaled(5))
        assert not up.errors, up.errors
    h = up.records[0]["proxy"]
    assert h is not None and h["version"] == 2, up.records[0]
    assert h["source"] == seen["addr"] and h["destination"] == (HOST, gw.port), h
    assert h["authority"] == "pp.test", h
    assert h["alpn"] is None, h
    assert h["ssl"] is not None and h["ssl"]["version"] == seen["version"], h
    assert up.records[1]["proxy"] is None, up.records[1]


def test_inbound_addresses_are_sent_on(gateway, pki):
    """Behind a load balancer and in front of a PROXY-aware upstream: the v2 header sent
    upstream carries the addresses of the v1 header received (1.2.3.4:5555 →
    192.0.2.10:8443), not the sockets'."""
    with TcpServer(proxy_header_echo_handler) as up:
        gw = gateway(listeners=[pp_listener(["127.0.0.1"])], route=up.address,
                     routes_yaml="send_proxy_protocol: v2")
        raw = socket.create_connection((HOST, gw.port), timeout=scaled(10))
        raw.sendall(proxy_v1("1.2.3.4", 5555, "192.0.2.10", 8443))
        with client_context(pki.ca).wrap_socket(raw, server_hostname="a.test") as s:
            s.sendall(b"x")
            assert s.recv(1) == b"x"
        assert up.wait_finished(1, scaled(5))
        assert not up.errors, up.errors
    h = up.records[0]["proxy"]
    assert h is not None and h["version"] == 2, up.records[0]
    assert h["source"] == ("1.2.3.4", 5555), h
    assert h["destination"] == ("192.0.2.10", 8443), h
