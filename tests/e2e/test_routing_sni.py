"""sni.yaml (ATS's format): per-name routes and policies, chosen by the ClientHello's SNI,
first matching item in file order.

tunnel_route (blind tunnel, TLS never terminated), a wildcard's capture in a destination,
forward_route (plaintext) against partial_blind_route (re-encrypted, the client's SNI sent
on), ip_allow, per-name TLS version bounds, per-name client certificates, a ClientHello
arriving one byte per TCP segment, and the line number of a bad key.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Gateway, GatewayStartError, scaled
from tlsclient import (BioTls, HOST, client_context, client_hello_bytes, inspect,
                       is_tls_alert, s_client, through_tunnel, tls_connect, wait_closed)
from upstreams import TcpServer, TlsServer, echo_handler

ACCESS_DENIED = 49  # TLS alert description
TUNNEL_CN = "sni-tunnel-server.test"


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def sni_yaml(*items: dict) -> str:
    """sni.yaml text with one item per dict; values are written as JSON, which is valid
    YAML flow style (quoted strings, [lists], {mappings})."""
    out = ["sni:"]
    for item in items:
        for i, (k, v) in enumerate(item.items()):
            out.append(f"{'  - ' if i == 0 else '    '}{k}: {json.dumps(v)}")
    return "\n".join(out) + "\n"


def sni_gateway(gateway, *items: dict, files: dict[str, str] | None = None,
                **kwargs) -> Gateway:
    """A gateway whose tlsgate.yaml says `sni: sni.yaml`, with these items."""
    return gateway(extra_yaml="sni: sni.yaml",
                   files={"sni.yaml": sni_yaml(*items), **(files or {})}, **kwargs)


def _der(crt: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(crt.read_text())


def _no_verify() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _read_line(sock) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        line += chunk
    return line


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def tunnel_cert(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for the destination's TLS server: tlsgate does not have it,
    so a client that receives it was not answered by tlsgate."""
    d = tmp_path_factory.mktemp("sni-tunnel-pki")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-days", "30", "-subj", f"/CN={TUNNEL_CN}", "-keyout", "tunnel.key",
             "-out", "tunnel.crt", cwd=d)
    return d / "tunnel.crt", d / "tunnel.key"


@pytest.fixture(scope="session")
def client_pki(tmp_path_factory) -> dict[str, Path]:
    """A client CA and one client certificate it signed (CN=alice)."""
    d = tmp_path_factory.mktemp("sni-client-pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-days", "30", "-subj", "/CN=sni client CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    _openssl("req", *ec, "-subj", "/CN=alice", "-keyout", "alice.key", "-out", "alice.csr",
             cwd=d)
    _openssl("x509", "-req", "-in", "alice.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "30", "-out", "alice.crt", cwd=d)
    return {n: d / n for n in ("ca.crt", "alice.crt", "alice.key")}


# --------------------------------------------------------------------------------------
# tunnel_route
# --------------------------------------------------------------------------------------

def test_tunnel_route_client_talks_tls_with_the_destination(gateway, pki, tunnel_cert):
    """tunnel_route: TLS is never terminated: the client completes its handshake with the
    destination (it receives that server's certificate, CN=sni-tunnel-server.test, none of
    tlsgate's), the destination sees the client's SNI; tlsgate counts a tunnel
    (sni_tunnels), the bytes it forwarded, and no handshake of its own. Another name on the
    same gateway is still terminated by tlsgate."""
    crt, key = tunnel_cert
    with TlsServer(crt, key) as dest:
        gw = sni_gateway(gateway, {"fqdn": "tunnel.test", "tunnel_route": dest.address})
        der, line = through_tunnel(gw.port, "tunnel.test", timeout=scaled(10))
        assert der == _der(crt), "the client did not get the destination's certificate"
        assert line == b"tunnel-server sni=tunnel.test\n", line
        assert dest.wait_finished(1, scaled(5)), "destination connection not closed"
        assert not dest.errors, dest.errors
        assert [r["sni"] for r in dest.records] == ["tunnel.test"]
        # Not a tunnel for every name: a.test is answered by tlsgate itself.
        r = inspect(gw.port, client_context(pki.ca), "a.test")
        assert r.status == 200 and r.json["sni"] == "a.test"
        assert len(dest.records) == 1
    s = gw.wait_stats(lambda s: s["connections_active"] == 0 and s["sni_tunnels"] >= 1)
    assert s["sni_tunnels"] == 1, s
    assert s["ssl_total_success_handshake_count_in"] == 1, s  # a.test's, not tunnel.test's
    assert "tunnel_bytes_client_to_destination" in s, f"no tunnel byte counter: {sorted(s)}"
    assert s["tunnel_bytes_client_to_destination"] > 0, s


def test_tunnel_route_wildcard_capture(gateway, pki, tunnel_cert):
    """A `*.cap.test` item with tunnel_route "$1:PORT": the label the wildcard matched
    becomes the destination host, resolved at run time. SNI localhost.cap.test reaches the
    TLS server on localhost:PORT; SNI nosuchhost-7f3.cap.test names a host that does not
    resolve: that connection is closed without any TLS answer and never reaches the
    server."""
    if socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)[0][4][0] != "127.0.0.1":
        pytest.skip("localhost does not resolve to 127.0.0.1 first on this machine")
    crt, key = tunnel_cert
    with TlsServer(crt, key) as dest:
        gw = sni_gateway(gateway, {"fqdn": "*.cap.test", "tunnel_route": f"$1:{dest.port}"})
        der, line = through_tunnel(gw.port, "localhost.cap.test", timeout=scaled(10))
        assert der == _der(crt)
        assert line == b"tunnel-server sni=localhost.cap.test\n", line
        assert dest.wait_finished(1, scaled(5))
        with socket.create_connection((HOST, gw.port), timeout=scaled(10)) as s:
            s.sendall(client_hello_bytes("nosuchhost-7f3.cap.test"))
            how, _, data = wait_closed(s, timeout=scaled(10))
        assert how in ("eof", "reset"), "connection left open after an unresolvable capture"
        assert not data.startswith(b"\x16"), data[:32]
        assert len(dest.records) == 1, dest.records
        assert not dest.errors, dest.errors
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["sni_tunnels"] >= 1, s
    assert s["ssl_total_success_handshake_count_in"] == 0, s


def test_tunnel_route_client_hello_in_one_byte_segments(gateway, pki, tunnel_cert):
    """tunnel_route when the ClientHello arrives one byte per TCP segment (TCP_NODELAY, a
    pause after each byte): tlsgate must gather the whole ClientHello before it can read the
    SNI, then replay every byte to the destination; the handshake completes with the
    destination and its first line comes back through the tunnel."""
    crt, key = tunnel_cert
    with TlsServer(crt, key) as dest:
        gw = sni_gateway(gateway, {"fqdn": "tunnel.test", "tunnel_route": dest.address})
        c = BioTls(gw.port, _no_verify(), "tunnel.test", timeout=scaled(20))
        try:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with pytest.raises(ssl.SSLWantReadError):
                c.obj.do_handshake()
            hello = c.out.read()
            assert hello[:1] == b"\x16" and len(hello) > 100, hello[:16]
            c.sock.setblocking(True)
            for i in range(len(hello)):
                c.sock.sendall(hello[i:i + 1])
                time.sleep(0.001)
            c.sock.setblocking(False)
            c.handshake()
            der = c.obj.getpeercert(binary_form=True)
            expected = b"tunnel-server sni=tunnel.test\n"
            line = c.exchange(b"", len(expected), timeout=scaled(10))
        finally:
            c.close()
        assert der == _der(crt), "the handshake was not with the destination"
        assert line == expected, line
        assert dest.wait_finished(1, scaled(5))
        assert not dest.errors, dest.errors
        assert [r["sni"] for r in dest.records] == ["tunnel.test"]
    s = gw.wait_stats(lambda s: s["sni_tunnels"] >= 1)
    assert s["sni_tunnels"] == 1, s


# --------------------------------------------------------------------------------------
# forward_route and partial_blind_route
# --------------------------------------------------------------------------------------

def test_forward_route_plaintext_vs_partial_blind_route_tls(gateway, pki, tunnel_cert):
    """Both terminate TLS with tlsgate's certificate (the client verifies it against the
    test CA). forward_route relays plaintext: the upstream receives exactly the bytes the
    client sent inside TLS (same SHA-256). partial_blind_route opens TLS to the origin with
    the client's SNI: the origin completes a handshake, records SNI blind.test, and its
    first line reaches the client through tlsgate."""
    crt, key = tunnel_cert
    payload = b"plaintext for the forward route\n" + os.urandom(500)
    with TcpServer(echo_handler) as plain, TlsServer(crt, key) as origin:
        gw = sni_gateway(gateway,
                         {"fqdn": "fwd.test", "forward_route": plain.address},
                         # The origin's certificate is self-signed: its verification is
                         # test_origin_tls.py's subject, not this routing test's.
                         {"fqdn": "blind.test", "partial_blind_route": origin.address,
                          "verify_server_policy": "DISABLED"})
        ctx = client_context(pki.ca, check_hostname=False)
        with tls_connect(gw.port, ctx, "fwd.test", timeout=scaled(10)) as s:
            assert s.getpeercert(binary_form=True) == _der(pki.crt("default"))
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(65536)
                assert chunk, f"forward route ended after {len(got)} bytes"
                got += chunk
            assert got == payload
        assert plain.wait_finished(1, scaled(5))
        assert plain.records[0]["received"] == len(payload)
        assert plain.records[0]["sha256"] == hashlib.sha256(payload).hexdigest()
        assert origin.records == [], "forward_route reached the TLS origin"

        with tls_connect(gw.port, ctx, "blind.test", timeout=scaled(10)) as s:
            assert s.getpeercert(binary_form=True) == _der(pki.crt("default")), \
                "partial_blind_route must terminate TLS with tlsgate's certificate"
            line = _read_line(s)
        assert line == b"tunnel-server sni=blind.test\n", line
        assert origin.wait_finished(1, scaled(5))
        assert not origin.errors, origin.errors
        assert [(r["sni"], r["handshake"]) for r in origin.records] == [("blind.test", True)]
        assert len(plain.records) == 1, "partial_blind_route reached the plaintext upstream"
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["ssl_total_success_handshake_count_in"] == 2, s
    assert s["relay_bytes_client_to_upstream"] >= len(payload), s
    assert s["sni_tunnels"] == 0, s


# --------------------------------------------------------------------------------------
# Policies: ip_allow, TLS versions, client certificates
# --------------------------------------------------------------------------------------

def test_ip_allow_refuses_other_sources(gateway, pki):
    """ip_allow [10.0.0.0/8] on deny.test: a client from 127.0.0.1 gets a fatal
    access_denied alert and no ServerHello; sni_ip_allow_denied counts it. The same client
    is let in for an item whose ip_allow covers it and for a name without ip_allow."""
    gw = sni_gateway(gateway,
                     {"fqdn": "deny.test", "ip_allow": ["10.0.0.0/8"]},
                     {"fqdn": "allow.test", "ip_allow": ["10.0.0.0/8", "127.0.0.0/8"]})
    with socket.create_connection((HOST, gw.port), timeout=scaled(10)) as s:
        s.sendall(client_hello_bytes("deny.test"))
        how, _, data = wait_closed(s, timeout=scaled(10))
    assert how in ("eof", "reset"), how
    assert is_tls_alert(data), f"expected a TLS alert, got {data[:32]!r}"
    assert data[5:7] == bytes([2, ACCESS_DENIED]), f"alert (level, description) {data[5:7]!r}"
    ctx = client_context(pki.ca, check_hostname=False)
    for name in ("allow.test", "a.test"):
        r = inspect(gw.port, ctx, name, timeout=scaled(10))
        assert r.status == 200 and r.json["sni"] == name
    s = gw.wait_stats(lambda s: s["sni_ip_allow_denied"] >= 1)
    assert s["sni_ip_allow_denied"] == 1, s
    assert s["ssl_total_success_handshake_count_in"] == 2, s


def test_tls_version_min_per_name(gateway, pki):
    """valid_tls_version_min_in TLSv1_3 on new.test: openssl s_client -tls1_2 is refused
    there with a protocol_version alert, while TLS 1.2 still works for a.test and TLS 1.3
    works for new.test."""
    gw = sni_gateway(gateway, {"fqdn": "new.test", "valid_tls_version_min_in": "TLSv1_3"})
    ca = ["-CAfile", str(pki.ca)]
    old = s_client(gw.port, "-tls1_2", *ca, sni="new.test", timeout=scaled(20))
    assert not old.handshake_ok, old.out
    assert "protocol version" in old.out, old.out
    other = s_client(gw.port, "-tls1_2", *ca, sni="a.test", timeout=scaled(20))
    assert other.handshake_ok, other.out
    assert other.field(r"^\s*Protocol\s*:\s*(\S+)") == "TLSv1.2", other.out
    new = s_client(gw.port, "-tls1_3", *ca, sni="new.test", timeout=scaled(20))
    assert new.handshake_ok, new.out
    s = gw.wait_stats(lambda s: s["ssl_total_success_handshake_count_in"] >= 2)
    assert s["ssl_total_success_handshake_count_in"] == 2, s


def test_verify_client_strict_per_name(gateway, pki, client_pki):
    """verify_client STRICT with verify_client_ca_certs (relative to sni.yaml's folder) on
    mtls.test only: without a client certificate mtls.test is refused; with alice's
    certificate it is served; a.test asks for no certificate at all."""
    gw = sni_gateway(gateway,
                     {"fqdn": "mtls.test", "verify_client": "STRICT",
                      "verify_client_ca_certs": "client-ca.crt"},
                     files={"client-ca.crt": client_pki["ca.crt"].read_text()})

    def request(name: str, with_cert: bool):
        ctx = client_context(pki.ca, check_hostname=False)
        if with_cert:
            ctx.load_cert_chain(str(client_pki["alice.crt"]), str(client_pki["alice.key"]))
        try:  # TLS 1.3: the server's verdict reaches the client when it reads
            return inspect(gw.port, ctx, name, timeout=scaled(10))
        except (ssl.SSLError, ConnectionError, OSError) as e:
            return e

    refused = request("mtls.test", with_cert=False)
    assert isinstance(refused, Exception), f"STRICT let mtls.test in without a certificate: " \
                                           f"{refused}"
    ok = request("mtls.test", with_cert=True)
    assert not isinstance(ok, Exception), ok
    assert ok.status == 200 and ok.json["sni"] == "mtls.test"
    other = request("a.test", with_cert=False)
    assert not isinstance(other, Exception), f"a.test required a certificate: {other}"
    s = gw.wait_stats(lambda s: s["ssl_total_success_handshake_count_in"] >= 2)
    assert s["ssl_total_success_handshake_count_in"] == 2, s


# --------------------------------------------------------------------------------------
# Errors in sni.yaml
# --------------------------------------------------------------------------------------

BAD_SNI_YAML = """\
sni:
  - fqdn: a.test
    forward_route: 127.0.0.1:9
  - fqdn: b.test
    no_such_key: 1
"""


def test_unknown_key_in_sni_yaml_names_the_line(tlsgate_bin, pki, tmp_path):
    """An unknown key in sni.yaml: `tlsgate --check` exits non-zero and says
    sni.yaml:<line of the key> and the key; starting the gateway fails the same way."""
    g = Gateway(tlsgate_bin, tmp_path / "bad-sni", pki, extra_yaml="sni: sni.yaml",
                files={"sni.yaml": BAD_SNI_YAML})
    g.write_files()
    r = subprocess.run([tlsgate_bin, "--check", "-c", str(g.yaml_path)], capture_output=True,
                       text=True, timeout=scaled(30))
    assert r.returncode != 0, r.stderr
    assert "sni.yaml:5" in r.stderr and "no_such_key" in r.stderr, r.stderr
    with pytest.raises(GatewayStartError):
        g.start()
    rc = g.stop()
    assert rc > 0, f"exit code {rc}:\n{g.stderr_text()}"
    assert "sni.yaml:5" in g.stderr_text(), g.stderr_text()
