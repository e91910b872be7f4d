"""Large ClientHellos (a post-quantum one is 1.5-2 KB and spans TCP segments) on every path
that reads before or during the handshake: S9's first-byte sniffing, sni.yaml tunnels with
replay (S10), hook tunnels at CLIENT_HELLO and at CERT (S10), and a PROXY header sharing its
segment with the ClientHello. Each ClientHello is ~2 KB, re-framed into records of 256 bytes
(or 64), and written one byte per TCP segment, or all at once."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from conftest import scaled
from test_proxy_protocol import pp_listener, proxy_v1, proxy_v2
from test_routing_sni import sni_gateway
from tlsclient import TrickleTls, large_hello_context
from upstreams import TlsServer

REQUEST = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"

# (one byte per segment, record body size)
CUTS = [pytest.param(True, 256, id="bytes-256"), pytest.param(True, 64, id="bytes-64"),
        pytest.param(False, 256, id="whole-256")]


@pytest.fixture(scope="module")
def dest_cert(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("dest-pki")
    crt, key = d / "dest.crt", d / "dest.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
                    "/CN=large-hello-destination.test", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    return crt, key


def terminate(port: int, ca: Path, one_byte: bool, body: int, prefix: bytes = b"",
              sni: str = "a.test") -> tuple[bytes, bytes]:
    """A trickled large ClientHello, the handshake with tlsgate, one request to inspect:
    (the ClientHello sent, the answer)."""
    c = TrickleTls(port, large_hello_context(ca), sni, timeout=scaled(30))
    try:
        hello = c.send_hello(prefix, body, one_byte)
        c.handshake()
        answer = c.exchange(REQUEST, 1, timeout=scaled(20))
        answer += c.read_until_end(scaled(20))
    finally:
        c.close()
    return hello, answer


def through_destination(port: int, one_byte: bool, body: int, sni: str) -> tuple[bytes, bytes]:
    """A trickled large ClientHello whose handshake a tunnel destination completes:
    (the destination's certificate as DER, the line it sends)."""
    c = TrickleTls(port, large_hello_context(), sni, timeout=scaled(30))
    try:
        hello = c.send_hello(b"", body, one_byte)
        assert len(hello) > 1500, len(hello)
        c.handshake()
        der = c.obj.getpeercert(binary_form=True)
        expected = f"tunnel-server sni={sni}\n".encode()
        line = c.exchange(b"", len(expected), timeout=scaled(20))
    finally:
        c.close()
    return der, line


@pytest.mark.parametrize("one_byte,body", CUTS)
def test_s9_passthrough_listener_terminates_a_large_client_hello(gateway, pki, one_byte, body):
    """S9: the first byte (0x16) comes alone, the rest a byte at a time: still TLS, so the
    listener terminates it and inspect answers; nothing is tunnelled."""
    gw = gateway(listeners=[{"listen": "127.0.0.1:0", "passthrough": True}])
    hello, answer = terminate(gw.port, pki.ca, one_byte, body)
    assert len(hello) > 1500, len(hello)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
    assert b'"sni": "a.test"' in answer
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["passthrough_tunnels"] == 0 and s["ssl_total_success_handshake_count_in"] == 1, s


@pytest.mark.parametrize("one_byte,body", CUTS)
def test_sni_tunnel_replays_a_large_client_hello(gateway, dest_cert, one_byte, body):
    """S10 through sni.yaml's tunnel_route: tlsgate gathers the whole ClientHello to read the
    SNI, then replays every byte, record framing included: the destination completes the
    handshake with the client and its line comes back."""
    crt, key = dest_cert
    with TlsServer(crt, key) as dest:
        gw = sni_gateway(gateway, {"fqdn": "tunnel.test", "tunnel_route": dest.address})
        der, line = through_destination(gw.port, one_byte, body, "tunnel.test")
        assert der == ssl.PEM_cert_to_DER_cert(crt.read_text())
        assert line == b"tunnel-server sni=tunnel.test\n", line
        assert dest.wait_finished(1, scaled(5)) and not dest.errors, dest.errors
    assert gw.wait_stats(lambda s: s["sni_tunnels"] >= 1)["sni_tunnels"] == 1


@pytest.mark.parametrize("point", ["client_hello", "cert"])
@pytest.mark.parametrize("one_byte,body", CUTS)
def test_hook_tunnel_replays_a_large_client_hello(gateway, plugin_dir, dest_cert, point,
                                                  one_byte, body):
    """S10: a hook asks for a tunnel at CLIENT_HELLO or at CERT, after the whole large
    ClientHello was read: the destination gets it replayed and completes the handshake."""
    crt, key = dest_cert
    with TlsServer(crt, key) as dest:
        gw = gateway(plugins=[{"path": plugin_dir / "hook_test.so",
                               "args": ["--name", "A", "--hook", point, "--mode", "tunnel",
                                        "--tunnel", dest.address]}])
        der, line = through_destination(gw.port, one_byte, body, "a.test")
        assert der == ssl.PEM_cert_to_DER_cert(crt.read_text())
        assert line == b"tunnel-server sni=a.test\n", line
        assert dest.wait_finished(1, scaled(5)) and not dest.errors, dest.errors
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["hook_tunnels"] == 1 and s["ssl_total_success_handshake_count_in"] == 0, s


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("one_byte,body", CUTS)
def test_proxy_header_and_large_client_hello_in_one_segment(gateway, pki, version, one_byte,
                                                           body):
    """A PROXY header and the ClientHello's first byte (or all of it) in one segment: the
    header is taken, every byte after it goes to TLS, and inspect reports the header's
    client."""
    gw = gateway(listeners=[pp_listener(["127.0.0.1"])])
    header = (proxy_v1("1.2.3.4", 5555, "192.0.2.10", 8443) if version == 1
              else proxy_v2("1.2.3.4", 5555, "192.0.2.10", 8443))
    _, answer = terminate(gw.port, pki.ca, one_byte, body, prefix=header)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
    assert b'"client": "1.2.3.4:5555"' in answer, answer
    assert gw.wait_stats(lambda s: s["proxy_protocol_accepted"] >= 1)["proxy_protocol_accepted"] == 1
