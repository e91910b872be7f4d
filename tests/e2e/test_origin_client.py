"""tlsgate as a TLS client towards origins, beyond verification (S17, S20): client
certificates, session reuse and sharing, the origin handshake timeout, and the CA, client
certificate, SNI and ALPN overridden per route or per sni.yaml name. Verification itself:
test_origin_tls.py; shared helpers: origin_route.py.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess

import pytest

from conftest import Gateway, scaled
from origin_pki import CLIENT_CN, ORIGIN_NAME
from origin_route import (ALL_VERIFY_COUNTERS, CA_FILE, assert_passed, client_files,
                          client_yaml, origin, origin_gateway, settled, tls_route, visit,
                          wait_line)
from origin_route import opki  # noqa: F401  (the session fixture)
from tlsclient import client_context
from upstreams import TcpServer, silent_handler


# --------------------------------------------------------------------------------------
# Client certificates towards the origin (S17)
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls12", "tls13"])
def test_origin_requiring_a_client_certificate(gateway, pki, opki, version):
    """An origin that requires a client certificate from the client CA. Without cert/key in
    ssl: client: tlsgate's connection is refused by the origin: the client gets nothing from
    it and the connection ends (under TLS 1.2 the refusal ends tlsgate's handshake: no
    outgoing handshake succeeds and origin_handshake_failure counts it). With cert/key, the
    origin reports tlsgate's certificate subject."""
    with origin(opki, "valid", client_ca=opki.crt("client-ca"), max_version=version) as o:
        bare = origin_gateway(gateway, opki, o.address)
        v = visit(bare, pki, ORIGIN_NAME)
        assert v.hello is None and v.received == b"", v.received
        assert v.end is not None
        assert o.wait_finished(1, scaled(5))
        assert not any(r.get("handshake") for r in o.records), o.records
        s = settled(bare)
        assert all(s[k] == 0 for k in ALL_VERIFY_COUNTERS), s  # not a verification failure
        if version == ssl.TLSVersion.TLSv1_2:
            assert v.end == "close_notify", v.end
            assert s["ssl_total_success_handshake_count_out"] == 0, s
            assert s.get("origin_handshake_failure", 0) == 1, s

        with_cert = origin_gateway(gateway, opki, o.address, files=client_files(opki),
                                   client={"cert": "client.crt", "key": "client.key"})
        v = visit(with_cert, pki, ORIGIN_NAME)
        assert_passed(v, ORIGIN_NAME)
        assert v.hello["client_subject"] == f"CN={CLIENT_CN}", v.hello
        assert v.hello["version"] == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                      ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    s = settled(with_cert, ssl_total_success_handshake_count_out=1)
    assert s["ssl_total_success_handshake_count_out"] == 1, s


@pytest.mark.parametrize("key, ok", [("client", True), ("stray-client", False)])
def test_client_key_must_match_its_certificate(tlsgate_bin, pki, opki, tmp_path, key, ok):
    """S17: the client certificate and key are checked to match at load: `tlsgate --check`
    accepts client.crt with its own key and refuses it with another certificate's key,
    naming the file."""
    g = Gateway(tlsgate_bin, tmp_path / "check", pki, route=tls_route("127.0.0.1:9"),
                extra_ssl_yaml=client_yaml({"ca_certs": CA_FILE, "cert": "client.crt",
                                            "key": "client.key"}),
                files={CA_FILE: opki.ca.read_text(), **client_files(opki, key=key)})
    g.write_files()
    r = subprocess.run([tlsgate_bin, "--check", "-c", str(g.yaml_path)], capture_output=True,
                       text=True, timeout=scaled(30))
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0, f"a mismatched client key was accepted:\n{r.stderr}"
        assert "client.key" in r.stderr or "client.crt" in r.stderr, r.stderr


# --------------------------------------------------------------------------------------
# Session reuse
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cache", [None, 0])
def test_origin_session_reuse(gateway, pki, opki, cache):
    """session_cache (default on): the first connection to an origin is a miss and stores
    the session (a TLS 1.3 ticket); the second connection, same origin and SNI, resumes it:
    the origin reports reused=true and origin_session_cache_hits counts one. With
    session_cache: 0 the second connection is a full handshake and nothing is a hit.
    One worker thread: this is about the cache itself (sharing between workers is the next
    test)."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address, client={"session_cache": cache},
                            threads=1)
        first = visit(gw, pki, ORIGIN_NAME)
        assert_passed(first, ORIGIN_NAME)
        assert first.hello["reused"] is False
        assert o.wait_finished(1, scaled(5))
        s = settled(gw, ssl_total_success_handshake_count_out=1)
        assert "origin_session_cache_hits" in s and "origin_session_cache_misses" in s, s
        assert s["origin_session_cache_hits"] == 0, s
        if cache is None:
            assert s["origin_session_cache_misses"] == 1, s
        second = visit(gw, pki, ORIGIN_NAME)
        assert_passed(second, ORIGIN_NAME)
        assert second.hello["reused"] is (cache is None), second.hello
    s = settled(gw, ssl_total_success_handshake_count_out=2)
    assert s["origin_session_cache_hits"] == (1 if cache is None else 0), s


ACCEPTED_RE = re.compile(r"\[net\] accepted 127\.0\.0\.1:(\d+) on .*\(worker (\d+)\)")


def accepting_worker(gw: Gateway, client_port: int) -> str | None:
    """The worker that accepted the client connection from `client_port`, from the debug
    tag `net` ("[net] accepted 127.0.0.1:PORT on ... (worker N)")."""
    for line in wait_line(gw, f"accepted 127.0.0.1:{client_port} "):
        m = ACCEPTED_RE.search(line)
        if m and int(m.group(1)) == client_port:
            return m.group(2)
    return None


def test_origin_sessions_are_shared_by_workers(gateway, pki, opki):
    """With two worker threads, a session stored by the worker that served the first
    connection is resumed by the other worker too: the first connection accepted by the
    other worker (found with the `net` debug tag) reports reused=true. The contract: the
    second connection to the same origin resumes, whichever thread accepts it."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address, threads=2, debug_tags="net")
        first = visit(gw, pki, ORIGIN_NAME)
        assert_passed(first, ORIGIN_NAME)
        assert first.hello["reused"] is False, first.hello
        first_worker = accepting_worker(gw, first.client_port)
        assert first_worker is not None, gw.stderr_text()
        for _ in range(24):  # the kernel spreads connections over the workers' listeners
            v = visit(gw, pki, ORIGIN_NAME)
            assert_passed(v, ORIGIN_NAME)
            other = accepting_worker(gw, v.client_port)
            if other != first_worker:
                break
        else:
            raise AssertionError(f"24 connections, all accepted by worker {first_worker}")
        assert v.hello["reused"] is True, \
            f"worker {other} did not resume the session worker {first_worker} stored: " \
            f"{v.hello}"
    s = settled(gw)
    assert s["origin_session_cache_misses"] == 1, s


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls12", "tls13"])
def test_sessions_are_not_shared_between_client_identities(gateway, pki, opki, version):
    """An origin session carries the client certificate it was made with. Three sni.yaml
    items reach the same mTLS origin with the same origin_sni (so the same origin address +
    SNI): cert.test with client.crt, stray.test with stray-client.crt (both trusted by the
    origin), nocert.test with none. In that order, on one worker: the origin sees each
    item's own certificate, and nocert.test is refused — none of them may resume a session
    made under another identity."""
    with origin(opki, "valid", client_ca=opki.crt("client-ca"), max_version=version) as o:
        items = sni_yaml(
            {"fqdn": "cert.test", "partial_blind_route": o.address, "origin_sni": ORIGIN_NAME,
             "client_cert": "client.crt", "client_key": "client.key"},
            {"fqdn": "stray.test", "partial_blind_route": o.address,
             "origin_sni": ORIGIN_NAME, "client_cert": "stray.crt", "client_key": "stray.key"},
            {"fqdn": "nocert.test", "partial_blind_route": o.address,
             "origin_sni": ORIGIN_NAME})
        gw = gateway(route=None, extra_yaml="sni: sni.yaml", threads=1,
                     extra_ssl_yaml=client_yaml({"ca_certs": CA_FILE}),
                     files={"sni.yaml": items, CA_FILE: opki.ca.read_text(),
                            **client_files(opki),
                            "stray.crt": opki.crt("stray-client").read_text(),
                            "stray.key": opki.key("stray-client").read_text()})
        v = visit(gw, pki, "cert.test")
        assert_passed(v, ORIGIN_NAME)
        assert v.hello["client_subject"] == f"CN={CLIENT_CN}", v.hello
        v = visit(gw, pki, "stray.test")
        assert_passed(v, ORIGIN_NAME)
        assert v.hello["client_subject"] == "CN=stray client", v.hello
        v = visit(gw, pki, "nocert.test")
        assert v.hello is None and v.received == b"", \
            f"nocert.test reached the origin with another item's identity: {v.received!r}"
        assert v.end is not None


# --------------------------------------------------------------------------------------
# Handshake timeout towards the origin
# --------------------------------------------------------------------------------------

def test_slow_origin_times_out_cleanly(gateway, pki, opki):
    """handshake_timeout_in: 1 and an origin that accepts TCP and never answers the
    ClientHello: about a second after the client's own handshake, tlsgate gives up — the
    client gets a close_notify and nothing else, ssl_origin_handshake_timeout counts one and
    the origin's connection is closed (it did receive a ClientHello)."""
    with TcpServer(silent_handler, timeout=scaled(30)) as o:
        gw = origin_gateway(gateway, opki, o.address, client={"handshake_timeout_in": 1})
        v = visit(gw, pki, ORIGIN_NAME, timeout=10)
        assert v.received == b"" and v.end == "close_notify", (v.received, v.end)
        waited = v.ended_at - v.handshake_at
        assert 0.8 <= waited <= scaled(3.0), f"closed after {waited:.2f} s, not ~1 s"
        assert o.wait_finished(1, scaled(5)), "tlsgate left the origin's connection open"
        assert o.records[0]["first"] == b"\x16", o.records
        assert not o.errors, o.errors
    s = settled(gw, ssl_origin_handshake_timeout=1)
    assert s.get("ssl_origin_handshake_timeout") == 1, s
    assert s["ssl_total_success_handshake_count_out"] == 0, s


# --------------------------------------------------------------------------------------
# sni.yaml: partial_blind_route and per-name overrides
# --------------------------------------------------------------------------------------

def sni_yaml(*items: dict) -> str:
    out = ["sni:"]
    for item in items:
        for i, (k, v) in enumerate(item.items()):
            out.append(f"{'  - ' if i == 0 else '    '}{k}: {json.dumps(v)}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("override, leaf, counter", [
    ({"verify_server_policy": "DISABLED"}, "unknown-ca", "ssl_origin_verify_unknown_ca"),
    ({"verify_server_properties": "SIGNATURE"}, "wrong-host",
     "ssl_origin_verify_name_mismatch"),
])
def test_sni_item_overrides_the_global_policy(gateway, pki, opki, override, leaf, counter):
    """Two sni.yaml items with partial_blind_route to the same origin, whose leaf fails
    verification; the global policy is ENFORCED. lax.test carries an override
    (verify_server_policy: DISABLED, or verify_server_properties: SIGNATURE against a leaf
    for another host) and goes through, the origin seeing SNI lax.test; strict.test, under
    the global settings, is refused and counted."""
    with origin(opki, leaf) as o:
        items = sni_yaml({"fqdn": "lax.test", "partial_blind_route": o.address, **override},
                         {"fqdn": "strict.test", "partial_blind_route": o.address})
        gw = gateway(route=None, extra_yaml="sni: sni.yaml",
                     extra_ssl_yaml=client_yaml({"verify_server_policy": "ENFORCED",
                                                 "ca_certs": CA_FILE}),
                     files={"sni.yaml": items, CA_FILE: opki.ca.read_text()})
        assert_passed(visit(gw, pki, "lax.test"), "lax.test")
        strict = visit(gw, pki, "strict.test")
        assert strict.hello is None and strict.received == b"", strict.received
        assert strict.end == "close_notify", strict.end
        assert o.wait_finished(2, scaled(5))
        assert [bool(r.get("handshake")) for r in o.records] == [True, False], o.records
    s = settled(gw, **{counter: 1})
    assert s[counter] == 1 and s["ssl_origin_verify_failure"] == 1, s
    assert s["ssl_total_success_handshake_count_out"] == 1, s


def test_sni_item_origin_sni_and_client_certificate(gateway, pki, opki):
    """Per-name settings in sni.yaml for an mTLS origin (TLS 1.2) presenting origin.test:
    nocert.test sends origin_sni "origin.test" without a client certificate and is refused
    by the origin; cert.test sends the same name and the item's client_cert/client_key
    (relative to sni.yaml): the origin sees that name and tlsgate's certificate. ip.test
    sends no name at all (origin_sni "") to an origin whose leaf carries only 127.0.0.1, and
    passes."""
    with origin(opki, "valid", client_ca=opki.crt("client-ca"),
                max_version=ssl.TLSVersion.TLSv1_2) as mtls, origin(opki, "ip") as by_ip:
        items = sni_yaml(
            {"fqdn": "cert.test", "partial_blind_route": mtls.address,
             "origin_sni": ORIGIN_NAME, "client_cert": "client.crt",
             "client_key": "client.key"},
            {"fqdn": "nocert.test", "partial_blind_route": mtls.address,
             "origin_sni": ORIGIN_NAME},
            {"fqdn": "ip.test", "partial_blind_route": by_ip.address, "origin_sni": ""})
        gw = gateway(route=None, extra_yaml="sni: sni.yaml",
                     extra_ssl_yaml=client_yaml({"ca_certs": CA_FILE}),
                     files={"sni.yaml": items, CA_FILE: opki.ca.read_text(),
                            **client_files(opki)})
        refused = visit(gw, pki, "nocert.test")
        assert refused.hello is None and refused.received == b"", refused.received
        assert refused.end == "close_notify", refused.end
        v = visit(gw, pki, "cert.test")
        assert_passed(v, ORIGIN_NAME)
        assert v.hello["client_subject"] == f"CN={CLIENT_CN}", v.hello
        assert_passed(visit(gw, pki, "ip.test"), None)
        assert mtls.wait_finished(2, scaled(5))
        assert [bool(r.get("handshake")) for r in mtls.records] == [False, True], mtls.records
    s = settled(gw, ssl_total_success_handshake_count_out=2)
    assert s["ssl_total_success_handshake_count_out"] == 2, s
    assert all(s[k] == 0 for k in ALL_VERIFY_COUNTERS), s


# --------------------------------------------------------------------------------------
# Per-route and per-name overrides of the CA, the client certificate and ALPN
# --------------------------------------------------------------------------------------

def test_route_overrides_ca_client_certificate_and_alpn(gateway, pki, opki):
    """A route in mapping form brings its own ca_certs (ssl.client has none: the system
    store, which does not know the origin CA), its own client certificate, and the ALPN
    offered to the origin; the origin sees all three."""
    with origin(opki, "valid", client_ca=opki.crt("client-ca"), alpn=["h2", "x-route"]) as o:
        route = (f"{{upstream: {o.address}, tls: true, ca_certs: {CA_FILE}, "
                 f"cert: client.crt, key: client.key, alpn: [x-route]}}")
        gw = gateway(route=route, extra_ssl_yaml=client_yaml({"verify_server_policy": "ENFORCED"}),
                     files={CA_FILE: opki.ca.read_text(), **client_files(opki)})
        v = visit(gw, pki, ORIGIN_NAME)
        assert_passed(v, ORIGIN_NAME)
        assert v.hello["client_subject"] == f"CN={CLIENT_CN}", v.hello
        assert v.hello["alpn"] == "x-route", v.hello


def test_sni_item_overrides_ca_and_alpn(gateway, pki, opki):
    """sni.yaml's origin_ca_certs and origin_alpn apply to that item's origin only: the
    item with them passes and offers its protocol; an item without them, under the same
    global policy and the system store, is refused."""
    with origin(opki, "valid", alpn=["x-item"]) as o:
        sni_yaml = (
            "sni:\n"
            f"  - fqdn: {ORIGIN_NAME}\n"
            f"    partial_blind_route: {o.address}\n"
            f"    origin_ca_certs: {CA_FILE}\n"
            "    origin_alpn: [x-item]\n"
            "  - fqdn: other.test\n"
            f"    partial_blind_route: {o.address}\n"
            f"    origin_sni: {ORIGIN_NAME}\n")
        gw = gateway(route=None, extra_yaml="sni: sni.yaml\n",
                     extra_ssl_yaml=client_yaml({"verify_server_policy": "ENFORCED"}),
                     files={"sni.yaml": sni_yaml, CA_FILE: opki.ca.read_text()})
        v = visit(gw, pki, ORIGIN_NAME)
        assert_passed(v, ORIGIN_NAME)
        assert v.hello["alpn"] == "x-item", v.hello
        refused = visit(gw, pki, "other.test")
        assert refused.hello is None and refused.end == "close_notify", refused
        s = settled(gw, ssl_origin_verify_unknown_ca=1)
        assert s["ssl_origin_verify_unknown_ca"] == 1, s


def test_origin_session_survives_a_client_that_resets(gateway, pki, opki):
    """A client that ends with a TCP reset instead of a close (as `openssl s_time` does)
    must not spoil the origin session: tlsgate closes the origin side with a close_notify,
    so the session stays resumable and the next connection resumes it."""
    import socket as _socket
    import struct

    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address, threads=1)
        ctx = client_context(pki.ca, check_hostname=False)
        raw = _socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10))
        s = ctx.wrap_socket(raw, server_hostname=ORIGIN_NAME)
        line = b""
        while not line.endswith(b"\n"):
            chunk = s.recv(4096)
            assert chunk, line
            line += chunk
        assert json.loads(line)["reused"] is False
        # RST: SO_LINGER with a zero timeout, then close without a close_notify.
        s.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        settled(gw, ssl_total_success_handshake_count_out=1)
        second = visit(gw, pki, ORIGIN_NAME)
        assert_passed(second, ORIGIN_NAME)
        assert second.hello["reused"] is True, second.hello
    s = settled(gw, ssl_total_success_handshake_count_out=2)
    assert s["origin_session_cache_hits"] == 1, s
