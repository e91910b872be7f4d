"""S14: after the handshake the negotiated ALPN protocol picks the endpoint.

Order: the sni.yaml item's alpn_routes for the protocol, then routes.alpn, then a plugin's
endpoint, then the item's forward_route / partial_blind_route, then routes.default. Without
ssl.alpn tlsgate offers the protocols its routes serve (routes.alpn keys, then sni.yaml's
alpn_routes keys, in file order); a negotiated protocol with no endpoint ends the
connection with close_notify and `no endpoint registered for '<proto>'`.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time

from conftest import scaled
from tlsclient import BioTls, client_context, tls_connect
from upstreams import (H2_EMPTY_SETTINGS, H2_PREFACE, HttpUpstream, NghttpdUpstream,
                       TcpServer, find_nghttpd, h2c_stub_handler, tagged_echo_handler)


def sni_yaml(*items: dict) -> str:
    """sni.yaml with one item per dict; JSON values are valid YAML flow values."""
    out = ["sni:"]
    for item in items:
        for i, (k, v) in enumerate(item.items()):
            out.append(f"{'  - ' if i == 0 else '    '}{k}: {json.dumps(v)}")
    return "\n".join(out) + "\n"


def routes_alpn(mapping: dict[str, str]) -> str:
    """The `alpn:` block under routes: (protocol → host:port)."""
    return "alpn:\n" + "".join(f"  {json.dumps(k)}: {json.dumps(v)}\n"
                               for k, v in mapping.items())


def landed(port: int, sni: str, alpn: list[str] | None, cafile) -> tuple[str | None, str]:
    """Connects with this SNI and ALPN offer; returns (the negotiated protocol, the tag line
    the tagged upstream sent, without its newline), after checking the relay echoes."""
    ctx = client_context(cafile, check_hostname=False, alpn=alpn)
    with tls_connect(port, ctx, sni, timeout=scaled(10)) as s:
        negotiated = s.selected_alpn_protocol()
        line = b""
        while not line.endswith(b"\n"):
            chunk = s.recv(4096)
            assert chunk, f"{sni} {alpn}: connection ended before the upstream's tag: {line!r}"
            line += chunk
        s.sendall(b"ping")
        echo = b""
        while len(echo) < 4:
            chunk = s.recv(4096)
            assert chunk, f"{sni} {alpn}: no echo"
            echo += chunk
        assert echo == b"ping"
    return negotiated, line.decode().rstrip("\n")


def _curl(port: int, version_flag: str, path: str, extra: list[str] = ()) -> \
        subprocess.CompletedProcess:
    return subprocess.run(
        ["curl", "-sS", "-k", version_flag, "--max-time", str(int(scaled(10))),
         "--resolve", f"alpn.test:{port}:127.0.0.1", "-w", "\n%{http_version}", *extra,
         f"https://alpn.test:{port}{path}"],
        capture_output=True, text=True, timeout=scaled(30))


# --------------------------------------------------------------------------------------
# curl --http2 / --http1.1 through sni.yaml alpn_routes
# --------------------------------------------------------------------------------------

def test_curl_h2_and_http11_land_on_their_alpn_routes(gateway, tmp_path):
    """sni.yaml alpn_routes {h2: an h2c server, http/1.1: an HTTP/1.1 server} on
    alpn.test, no ssl.alpn (tlsgate offers h2 and http/1.1 because its routes serve them):
    `curl --http2` negotiates h2 and its request reaches the h2c server only; `curl
    --http1.1` reaches the HTTP/1.1 server only.

    With nghttpd (Debian nghttp2-server) curl gets the h2 server's file; without it, a stub
    records the HTTP/2 connection preface and curl's h2 request is not expected to
    succeed."""
    token1 = os.urandom(8).hex()
    token2 = os.urandom(8).hex()
    with HttpUpstream(token1) as h1, _h2_upstream(tmp_path, token2) as (h2, kind):
        gw = gateway(extra_yaml="sni: sni.yaml", files={"sni.yaml": sni_yaml(
            {"fqdn": "alpn.test", "alpn_routes": {"h2": h2.address,
                                                   "http/1.1": h1.address}})})
        p2 = _curl(gw.port, "--http2", "/token")
        if kind == "nghttpd":
            assert p2.returncode == 0, p2.stderr
            body, version = p2.stdout.rsplit("\n", 1)
            assert (body, version) == (f"h2 {token2}", "2"), p2.stdout
            log = h2.wait_log(lambda ls: any(":path: /token" in l for l in ls), scaled(5))
            assert sum(":path: /token" in l for l in log) == 1, log
            assert any(f":authority: alpn.test:{gw.port}" in l for l in log), log
        else:
            assert h2.wait_finished(1, scaled(5)), "the h2 request never reached the h2c stub"
            assert [r["preface"] for r in h2.records] == [H2_PREFACE], h2.records
        assert h1.requests == [], "the h2 request reached the HTTP/1.1 upstream"

        p1 = _curl(gw.port, "--http1.1", "/token")
        assert p1.returncode == 0, p1.stderr
        body, version = p1.stdout.rsplit("\n", 1)
        assert version == "1.1", p1.stdout
        assert json.loads(body) == {"path": "/token", "host": f"alpn.test:{gw.port}",
                                    "token": token1}
        assert len(h1.requests) == 1
        if kind == "nghttpd":
            assert sum(":path: /token" in l for l in h2.log_lines()) == 1
        else:
            assert len(h2.records) == 1, "the HTTP/1.1 request reached the h2c stub"


def _h2_upstream(tmp_path, token: str):
    """(server, "nghttpd") serving /token = "h2 <token>", else (h2c stub, "stub")."""
    @contextlib.contextmanager
    def cm():
        if find_nghttpd():
            with NghttpdUpstream(tmp_path / "h2-root", {"token": f"h2 {token}"}) as ng:
                yield ng, "nghttpd"
        else:
            with TcpServer(h2c_stub_handler) as stub:
                yield stub, "stub"
    return cm()


# --------------------------------------------------------------------------------------
# routes.alpn, the default, the order of endpoints, the offered list
# --------------------------------------------------------------------------------------

def test_routes_alpn_from_tlsgate_yaml(gateway, pki):
    """routes.alpn {h2: H} in tlsgate.yaml: a client offering h2 negotiates it (tlsgate
    offers it since a route serves it) and is relayed to H; the h2 bytes reach H (an h2c
    stub records the HTTP/2 preface sent through tlsgate)."""
    with TcpServer(h2c_stub_handler) as h2, TcpServer(tagged_echo_handler("default")) as d:
        gw = gateway(route=d.address, routes_yaml=routes_alpn({"h2": h2.address}))
        ctx = client_context(pki.ca, alpn=["h2", "http/1.1"])
        with tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as s:
            assert s.selected_alpn_protocol() == "h2"
            s.sendall(H2_PREFACE)
            got = b""
            while len(got) < len(H2_EMPTY_SETTINGS):
                chunk = s.recv(4096)
                assert chunk, f"connection ended after {got!r}"
                got += chunk
            assert got == H2_EMPTY_SETTINGS
        assert h2.wait_finished(1, scaled(5))
        assert [r["preface"] for r in h2.records] == [H2_PREFACE]
        assert d.records == [], "the h2 connection also reached the default route"
    s = gw.wait_stats(lambda s: s["relay_bytes_client_to_upstream"] >= len(H2_PREFACE))
    assert s["relay_bytes_client_to_upstream"] == len(H2_PREFACE), s


def test_no_alpn_goes_to_the_default(gateway, pki):
    """No protocol negotiated means routes.default, whether the client offered nothing or
    only protocols no route serves; a client offering h2 on the same gateway still reaches
    routes.alpn's h2 endpoint."""
    with TcpServer(tagged_echo_handler("h2-route")) as h2, \
            TcpServer(tagged_echo_handler("default")) as d:
        gw = gateway(route=d.address, routes_yaml=routes_alpn({"h2": h2.address}))
        assert landed(gw.port, "a.test", None, pki.ca) == (None, "default")
        assert landed(gw.port, "a.test", ["http/1.1", "spdy/3"], pki.ca) == (None, "default")
        assert landed(gw.port, "a.test", ["h2"], pki.ca) == ("h2", "h2-route")
        assert d.wait_finished(2, scaled(5)) and h2.wait_finished(1, scaled(5))
        assert len(d.records) == 2 and len(h2.records) == 1


def test_endpoint_order(gateway, pki):
    """S14's order, one connection per row: the item's alpn_routes beat routes.alpn for the
    same protocol; routes.alpn beats the item's forward_route; the item's forward_route
    takes a protocol no ALPN route serves and connections without ALPN; a name without an
    item goes to routes.default."""
    tags = ("item-h2", "item-http11", "global-h2", "forward", "default")
    servers = {t: TcpServer(tagged_echo_handler(t)) for t in tags}
    for srv in servers.values():
        srv.__enter__()
    try:
        addr = {t: servers[t].address for t in tags}
        gw = gateway(route=addr["default"],
                     routes_yaml=routes_alpn({"h2": addr["global-h2"]}),
                     extra_yaml="sni: sni.yaml", files={"sni.yaml": sni_yaml(
                         {"fqdn": "alpn.test", "alpn_routes": {"h2": addr["item-h2"],
                                                                "http/1.1": addr["item-http11"]}},
                         {"fqdn": "other.test", "forward_route": addr["forward"]})})
        rows = [
            ("alpn.test", ["h2"], ("h2", "item-h2")),
            ("alpn.test", ["http/1.1"], ("http/1.1", "item-http11")),
            ("other.test", ["h2"], ("h2", "global-h2")),
            ("other.test", ["http/1.1"], ("http/1.1", "forward")),
            ("other.test", None, (None, "forward")),
            ("a.test", ["h2"], ("h2", "global-h2")),
            ("a.test", None, (None, "default")),
        ]
        got = [(sni, alpn, landed(gw.port, sni, alpn, pki.ca)) for sni, alpn, _ in rows]
        assert got == [(sni, alpn, want) for sni, alpn, want in rows]
    finally:
        for srv in servers.values():
            srv.__exit__(None, None, None)


def test_offered_protocols_follow_the_routes(gateway, pki):
    """Without ssl.alpn tlsgate offers routes.alpn's keys, then sni.yaml's alpn_routes keys
    in file order, and picks by that order (server preference): with routes.alpn
    {http/1.1} and alpn.test's alpn_routes {h2, x-test/1}, a client offering
    "h2, http/1.1" gets http/1.1, one offering "x-test/1, h2" gets h2, one offering only
    "x-test/1" gets it, and a protocol no route serves is not negotiated. With ssl.alpn
    [h2] exactly that list is offered."""
    with TcpServer(tagged_echo_handler("up")) as up:
        files = {"sni.yaml": sni_yaml({"fqdn": "alpn.test", "alpn_routes": {
            "h2": up.address, "x-test/1": up.address}})}
        gw = gateway(route=up.address, routes_yaml=routes_alpn({"http/1.1": up.address}),
                     extra_yaml="sni: sni.yaml", files=files)
        rows = [(["h2", "http/1.1"], "http/1.1"), (["x-test/1", "h2"], "h2"),
                (["x-test/1"], "x-test/1"), (["spdy/3"], None)]
        got = [(offer, landed(gw.port, "alpn.test", offer, pki.ca)[0]) for offer, _ in rows]
        assert got == rows

        gw2 = gateway(route=up.address, routes_yaml=routes_alpn({"http/1.1": up.address}),
                      extra_yaml="sni: sni.yaml", files=files, alpn=["h2"])
        got = [(offer, landed(gw2.port, "alpn.test", offer, pki.ca)[0])
               for offer in (["h2", "http/1.1"], ["http/1.1"], ["x-test/1"])]
        assert got == [(["h2", "http/1.1"], "h2"), (["http/1.1"], None), (["x-test/1"], None)]


# --------------------------------------------------------------------------------------
# S14: a negotiated protocol without an endpoint
# --------------------------------------------------------------------------------------

def test_negotiated_protocol_without_endpoint(gateway, pki):
    """routes.alpn {h2} and no routes.default, ssl.alpn [h2, http/1.1]: a client offering
    only http/1.1 negotiates it, then gets close_notify and no data; no_endpoint counts it
    and an ssl.error debug line says "no endpoint registered for 'http/1.1'". The h2
    endpoint is not touched; an h2 client on the same gateway is relayed."""
    with TcpServer(tagged_echo_handler("h2-route")) as h2:
        gw = gateway(route=None, routes_yaml=routes_alpn({"h2": h2.address}),
                     alpn=["h2", "http/1.1"], debug_tags="ssl.error")
        c = BioTls(gw.port, client_context(pki.ca, alpn=["http/1.1"]), "a.test",
                   timeout=scaled(10))
        try:
            c.handshake()
            assert c.obj.selected_alpn_protocol() == "http/1.1"
            rest = c.read_until_end(scaled(5))
        finally:
            c.close()
        assert rest == b"", rest
        assert c.end == "close_notify", c.end
        s = gw.wait_stats(lambda s: s["no_endpoint"] >= 1)
        assert s["no_endpoint"] == 1, s
        deadline = time.monotonic() + scaled(5)
        want = "no endpoint registered for 'http/1.1'"
        while not any(want in l for l in gw.debug_lines("ssl.error")) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(want in l for l in gw.debug_lines("ssl.error")), gw.stderr_text()
        assert h2.records == [], "the http/1.1 connection reached the h2 endpoint"
        assert landed(gw.port, "a.test", ["h2"], pki.ca) == ("h2", "h2-route")
