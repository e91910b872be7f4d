"""tlsgate as a TLS client towards origins (S17, S18, S19, S20): re-encrypting routes
(`routes: default: {upstream: ..., tls: true}`, sni.yaml `partial_blind_route`) and the
`ssl: client:` section.

Every origin is a real TLS server (upstreams.OriginServer, Python ssl) presenting a
certificate made at test time (origin_pki.py). It answers each connection with one JSON
line saying what it saw (the SNI, whether the session was resumed, tlsgate's client
certificate), then echoes; the downstream client reads that line through tlsgate.

A refused origin: the downstream client completed its own handshake with tlsgate, then
gets a close_notify and not one byte from the origin.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Gateway, scaled
from origin_pki import CLIENT_CN, ORIGIN_NAME, WILDCARD_DOMAIN, OriginPki
from pki import run_openssl
from tlsclient import BioTls, client_context
from upstreams import OriginServer, TcpServer, silent_handler

CA_FILE = "origin-ca.crt"
PAYLOAD = b"through tlsgate to the origin and back\n"

# The failures of S19 by kind: the leaf the origin presents, the counter of that reason and
# OpenSSL's text for it, which the warning line carries.
FAILURES = {
    "expired": ("expired", "ssl_origin_verify_expired", "certificate has expired"),
    "unknown_ca": ("unknown-ca", "ssl_origin_verify_unknown_ca",
                   "unable to get local issuer certificate"),
    "wrong_host": ("wrong-host", "ssl_origin_verify_name_mismatch", "hostname mismatch"),
}
REASON_COUNTERS = ("ssl_origin_verify_expired", "ssl_origin_verify_unknown_ca",
                   "ssl_origin_verify_name_mismatch", "ssl_origin_verify_other")
ALL_VERIFY_COUNTERS = ("ssl_origin_verify_failure",) + REASON_COUNTERS


# --------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def opki(tmp_path_factory) -> OriginPki:
    p = OriginPki(tmp_path_factory.mktemp("origin-pki")).generate()
    p.check_dates()
    return p


def origin(opki: OriginPki, leaf: str, **kwargs) -> OriginServer:
    """An origin presenting `leaf` (chain.crt / deep.crt with chain-leaf.key / deep-leaf.key)."""
    key = {"chain": "chain-leaf", "deep": "deep-leaf"}.get(leaf, leaf)
    return OriginServer(opki.crt(leaf), opki.key(key), **kwargs)


def client_yaml(settings: dict) -> str:
    """`client:` under ssl:, one key per line; a value of None leaves the key out."""
    lines = ["client:"]
    for k, v in settings.items():
        if v is None:
            continue
        lines.append(f"  {k}: {json.dumps(v) if v == '' else v}")
    return "\n".join(lines) + "\n"


def tls_route(address: str, sni: str | None = None) -> str:
    """A re-encrypting route in mapping form; `sni` None leaves the key out."""
    extra = "" if sni is None else f", sni: {json.dumps(sni)}"
    return f"{{upstream: {address}, tls: true{extra}}}"


def origin_gateway(gateway, opki: OriginPki, address: str, *, client: dict | None = None,
                   sni: str | None = None, files: dict[str, str] | None = None,
                   **kwargs) -> Gateway:
    """A gateway whose default route re-encrypts to `address`; ssl: client: is ENFORCED with
    the origin CA (written next to tlsgate.yaml) unless `client` says otherwise."""
    settings = {"verify_server_policy": "ENFORCED", "ca_certs": CA_FILE, **(client or {})}
    return gateway(route=tls_route(address, sni), extra_ssl_yaml=client_yaml(settings),
                   files={CA_FILE: opki.ca.read_text(), **(files or {})}, **kwargs)


def client_files(opki: OriginPki, cert: str = "client", key: str = "client") -> dict[str, str]:
    return {"client.crt": opki.crt(cert).read_text(), "client.key": opki.key(key).read_text()}


@dataclass
class Visit:
    """One downstream connection through tlsgate, as the client saw it."""
    hello: dict | None    # the origin's JSON line, None when it never arrived
    received: bytes       # every byte the client got, the line included
    echo: bytes           # what came back of PAYLOAD
    end: str | None       # "close_notify" / "eof" / "reset" once tlsgate ended it
    handshake_at: float   # time.monotonic() when the client's handshake with tlsgate ended
    ended_at: float | None
    client_port: int      # the client's own port, as tlsgate's logs name it


def visit(gw: Gateway, pki, sni: str | None, *, timeout: float = 10.0) -> Visit:
    """Handshake with tlsgate (verifying its certificate against the test CA), read until the
    origin's line arrives or tlsgate ends the connection; after a line, send PAYLOAD and
    read its echo. Sends nothing before the verdict, so a refusal is a plain close."""
    c = BioTls(gw.port, client_context(pki.ca, check_hostname=False), sni,
               timeout=scaled(timeout))
    port = c.sock.getsockname()[1]
    try:
        c.handshake()
        start = time.monotonic()
        got = b""
        while b"\n" not in got and c.end is None:
            try:
                got += c.exchange(b"", 1, timeout=scaled(timeout))
            except ConnectionResetError:
                c.end = "reset"
        ended = time.monotonic() if c.end else None
        if b"\n" not in got:
            return Visit(None, got, b"", c.end, start, ended, port)
        line, rest = got.split(b"\n", 1)
        echo = rest
        if len(echo) < len(PAYLOAD) and c.end is None:
            echo += c.exchange(PAYLOAD, len(PAYLOAD) - len(echo), timeout=scaled(timeout))
        return Visit(json.loads(line), got, echo, c.end, start, None, port)
    finally:
        c.close()


def assert_passed(v: Visit, sni_at_origin: str | None) -> None:
    assert v.hello is not None, f"nothing from the origin; the connection ended: {v.end}, " \
                                f"bytes {v.received!r}"
    assert v.hello["sni"] == sni_at_origin, v.hello
    assert v.echo == PAYLOAD, f"echo through tlsgate: {v.echo!r}"


def assert_refused(v: Visit, origin_server: TcpServer) -> None:
    """The downstream client got a clean close and nothing else; the origin never finished a
    handshake, so it relayed nothing."""
    assert v.hello is None and v.received == b"", \
        f"the origin's bytes reached the client: {v.received!r}"
    assert v.end == "close_notify", f"expected a close_notify, the connection ended: {v.end}"
    assert origin_server.wait_finished(1, scaled(5)), "tlsgate never reached the origin"
    assert not any(r.get("handshake") for r in origin_server.records), origin_server.records


def settled(gw: Gateway, **at_least: int) -> dict:
    """Stats once no connection is active and each named counter reached its value; every
    named counter and every origin verification counter must exist."""
    s = gw.wait_stats(lambda s: s.get("connections_active") == 0
                      and all(s.get(k, 0) >= v for k, v in at_least.items()))
    missing = [k for k in (*at_least, *ALL_VERIFY_COUNTERS,
                           "ssl_total_success_handshake_count_out") if k not in s]
    assert not missing, f"counters missing from the stats: {missing}; have {sorted(s)}"
    return s


def lines_with(gw: Gateway, *needles: str) -> list[str]:
    return [l for l in list(gw.lines) if all(n in l for n in needles)]


def wait_line(gw: Gateway, *needles: str, timeout: float = 5.0) -> list[str]:
    """The stderr lines holding every needle, waiting up to `timeout` for one to appear."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        found = lines_with(gw, *needles)
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


# --------------------------------------------------------------------------------------
# A valid origin
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def ca_dir(opki, tmp_path_factory) -> Path:
    """The origin CA in a hashed directory (`openssl rehash`), for ca_certs as a folder."""
    d = tmp_path_factory.mktemp("origin-ca-dir")
    (d / "origin-ca.pem").write_text(opki.ca.read_text())
    run_openssl("rehash", str(d))
    return d


@pytest.mark.parametrize("ca_certs", ["file", "directory"])
def test_valid_origin_passes_enforced_with_client_sni(gateway, pki, opki, ca_dir, ca_certs):
    """S17/S18/S19: under ENFORCED, an origin whose leaf chains to ca_certs (a file relative
    to tlsgate.yaml, or a hashed directory) and names the SNI is reached; the origin received
    the client's own SNI; bytes go both ways; one outgoing handshake is counted and no
    verification failure."""
    with origin(opki, "valid") as o:
        client = {"ca_certs": CA_FILE if ca_certs == "file" else str(ca_dir)}
        gw = origin_gateway(gateway, opki, o.address, client=client)
        v = visit(gw, pki, ORIGIN_NAME)
        assert_passed(v, ORIGIN_NAME)
        assert v.hello["client_subject"] is None  # nobody asked for a certificate
    s = settled(gw, ssl_total_success_handshake_count_out=1)
    assert s["ssl_total_success_handshake_count_out"] == 1, s
    assert all(s[k] == 0 for k in ALL_VERIFY_COUNTERS), s


def test_default_ca_store_is_the_system_one(gateway, pki, opki):
    """Without ca_certs the system store is used: it does not hold the test origin CA, so a
    valid test origin is refused under ENFORCED as an unknown CA."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address, client={"ca_certs": None})
        assert_refused(visit(gw, pki, ORIGIN_NAME), o)
    s = settled(gw, ssl_origin_verify_failure=1)
    assert s["ssl_origin_verify_unknown_ca"] == 1, s
    assert s["ssl_total_success_handshake_count_out"] == 0, s


# --------------------------------------------------------------------------------------
# Policy x failure kind (S17, S19)
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(FAILURES))
@pytest.mark.parametrize("policy", ["ENFORCED", None])
def test_enforced_refuses(gateway, pki, opki, kind, policy):
    """ENFORCED (stated, or by default when verify_server_policy is absent) and an expired
    leaf / a leaf from an unknown CA / a leaf for another host: the client gets a
    close_notify and nothing from the origin; ssl_origin_verify_failure and the reason's own
    counter count one, no other reason is counted, no outgoing handshake succeeded."""
    leaf, counter, _ = FAILURES[kind]
    with origin(opki, leaf) as o:
        gw = origin_gateway(gateway, opki, o.address, client={"verify_server_policy": policy})
        assert_refused(visit(gw, pki, ORIGIN_NAME), o)
    s = settled(gw, ssl_origin_verify_failure=1)
    assert s["ssl_origin_verify_failure"] == 1, s
    assert {k: s[k] for k in REASON_COUNTERS} == {k: int(k == counter) for k in REASON_COUNTERS}
    assert s["ssl_total_success_handshake_count_out"] == 0, s


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_permissive_passes_with_warning(gateway, pki, opki, kind):
    """PERMISSIVE: the same failures let the connection through (the origin's line and the
    echo reach the client), a warning line names `origin <ip:port>` and OpenSSL's reason,
    and the failure is counted under its reason."""
    leaf, counter, reason = FAILURES[kind]
    with origin(opki, leaf) as o:
        gw = origin_gateway(gateway, opki, o.address,
                            client={"verify_server_policy": "PERMISSIVE"})
        assert_passed(visit(gw, pki, ORIGIN_NAME), ORIGIN_NAME)
        warned = wait_line(gw, f"origin {o.address}", reason)
    assert warned, f"no line with 'origin {o.address}' and '{reason}':\n{gw.stderr_text()}"
    s = settled(gw, ssl_origin_verify_failure=1)
    assert s["ssl_origin_verify_failure"] == 1, s
    assert {k: s[k] for k in REASON_COUNTERS} == {k: int(k == counter) for k in REASON_COUNTERS}
    assert s["ssl_total_success_handshake_count_out"] == 1, s


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_disabled_passes_silently(gateway, pki, opki, kind):
    """DISABLED: no check at all: the connection goes through, no verification counter
    moves and no line mentions the origin's failure."""
    leaf, _, reason = FAILURES[kind]
    with origin(opki, leaf) as o:
        gw = origin_gateway(gateway, opki, o.address,
                            client={"verify_server_policy": "DISABLED"})
        assert_passed(visit(gw, pki, ORIGIN_NAME), ORIGIN_NAME)
    s = settled(gw, ssl_total_success_handshake_count_out=1)  # stderr is complete up to here
    assert all(s[k] == 0 for k in ALL_VERIFY_COUNTERS), s
    assert not lines_with(gw, reason), lines_with(gw, reason)


# --------------------------------------------------------------------------------------
# verify_server_properties
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("properties, leaf, passes, counter", [
    ("SIGNATURE", "wrong-host", True, None),
    ("SIGNATURE", "unknown-ca", False, "ssl_origin_verify_unknown_ca"),
    ("NAME", "unknown-ca", True, None),
    ("NAME", "expired", True, None),
    ("NAME", "wrong-host", False, "ssl_origin_verify_name_mismatch"),
    ("NONE", "unknown-ca", True, None),
    ("NONE", "wrong-host", True, None),
    ("ALL", "wrong-host", False, "ssl_origin_verify_name_mismatch"),
])
def test_verify_server_properties(gateway, pki, opki, properties, leaf, passes, counter):
    """Under ENFORCED, verify_server_properties picks what is checked: SIGNATURE only the
    chain (another host's leaf passes, an unknown CA does not), NAME only the name (an
    unknown CA's or an expired leaf naming origin.test passes, another host's does not),
    NONE nothing, ALL both."""
    with origin(opki, leaf) as o:
        gw = origin_gateway(gateway, opki, o.address,
                            client={"verify_server_properties": properties})
        v = visit(gw, pki, ORIGIN_NAME)
        if passes:
            assert_passed(v, ORIGIN_NAME)
        else:
            assert_refused(v, o)
    s = settled(gw, **({counter: 1} if counter else {"ssl_total_success_handshake_count_out": 1}))
    if passes:
        assert s["ssl_total_success_handshake_count_out"] == 1, s
        assert all(s[k] == 0 for k in ALL_VERIFY_COUNTERS), s
    else:
        assert s[counter] == 1 and s["ssl_origin_verify_failure"] == 1, s
        assert s["ssl_total_success_handshake_count_out"] == 0, s


# --------------------------------------------------------------------------------------
# Names: wildcards, IP SANs, the SNI sent (S18, S19)
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sni, passes", [
    (f"a.{WILDCARD_DOMAIN}", True),
    (f"a.b.{WILDCARD_DOMAIN}", False),
    (WILDCARD_DOMAIN, False),
])
def test_wildcard_covers_exactly_one_label(gateway, pki, opki, sni, passes):
    """An origin leaf for *.wild.origin.test: a.wild.origin.test matches; a.b.wild.origin.test
    (two labels) and wild.origin.test (none) are name mismatches under ENFORCED."""
    with origin(opki, "wild") as o:
        gw = origin_gateway(gateway, opki, o.address)
        v = visit(gw, pki, sni)
        if passes:
            assert_passed(v, sni)
        else:
            assert_refused(v, o)
    s = settled(gw, **({"ssl_total_success_handshake_count_out": 1} if passes
                       else {"ssl_origin_verify_name_mismatch": 1}))
    assert s["ssl_origin_verify_name_mismatch"] == (0 if passes else 1), s
    assert s["ssl_total_success_handshake_count_out"] == (1 if passes else 0), s


@pytest.mark.parametrize("leaf, route_sni, client_sni, passes", [
    ("ip", "", ORIGIN_NAME, True),      # no name sent: the route says sni: ""
    ("ip", None, None, True),           # no name sent: the client sent none
    ("valid", "", ORIGIN_NAME, False),  # no name sent, a leaf with a DNS name only
    ("ip", None, ORIGIN_NAME, False),   # a name sent, a leaf with an IP only
], ids=["route-no-sni", "client-no-sni", "dns-leaf-no-sni", "ip-leaf-with-sni"])
def test_no_sni_checks_the_ip_san(gateway, pki, opki, leaf, route_sni, client_sni, passes):
    """S18/S19: when no server name is sent to the origin (`sni: ""` on the route, or a
    client that sent none), the origin sees no SNI and its leaf must match its IP address
    (IP SAN 127.0.0.1); a DNS-only leaf then fails, and an IP-only leaf fails when a name
    is sent. Both failures count as name mismatches."""
    with origin(opki, leaf) as o:
        gw = origin_gateway(gateway, opki, o.address, sni=route_sni)
        v = visit(gw, pki, client_sni)
        if passes:
            assert_passed(v, None)
        else:
            assert_refused(v, o)
    s = settled(gw, **({"ssl_total_success_handshake_count_out": 1} if passes
                       else {"ssl_origin_verify_name_mismatch": 1}))
    assert s["ssl_origin_verify_name_mismatch"] == (0 if passes else 1), s
    assert s["ssl_origin_verify_failure"] == (0 if passes else 1), s


@pytest.mark.parametrize("leaf, reason", [("ip", "hostname mismatch"),
                                          ("valid", "IP address mismatch")])
def test_permissive_names_the_ip_or_host_mismatch(gateway, pki, opki, leaf, reason):
    """PERMISSIVE: the name failures of S19 are logged with OpenSSL's own reason — "IP
    address mismatch" when no SNI was sent and the leaf has no matching IP SAN, "hostname
    mismatch" when a name was sent and the leaf has only an IP."""
    route_sni = "" if leaf == "valid" else None
    with origin(opki, leaf) as o:
        gw = origin_gateway(gateway, opki, o.address, sni=route_sni,
                            client={"verify_server_policy": "PERMISSIVE"})
        assert_passed(visit(gw, pki, ORIGIN_NAME), None if route_sni == "" else ORIGIN_NAME)
        warned = wait_line(gw, f"origin {o.address}", reason)
    assert warned, f"no line with 'origin {o.address}' and '{reason}':\n{gw.stderr_text()}"
    s = settled(gw, ssl_origin_verify_name_mismatch=1)
    assert s["ssl_origin_verify_name_mismatch"] == 1, s


def test_route_sni_replaces_the_client_name(gateway, pki, opki):
    """S18: `sni: "origin.test"` on the route is the name the origin receives and the name
    its leaf is checked against, although the client asked tlsgate for client-side.test (a
    name the leaf does not carry)."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address, sni=ORIGIN_NAME)
        assert_passed(visit(gw, pki, "client-side.test"), ORIGIN_NAME)
    s = settled(gw, ssl_total_success_handshake_count_out=1)
    assert all(s[k] == 0 for k in ALL_VERIFY_COUNTERS), s


LONG_NAME = "a" * 300 + ".test"  # over the 255 bytes OpenSSL accepts as a host name


@pytest.mark.parametrize("policy", ["DISABLED", "ENFORCED"])
def test_sni_openssl_refuses_is_counted(gateway, pki, opki, policy):
    """S18: a route `sni:` of 305 bytes cannot be set (OpenSSL's limit is 255):
    ssl_sni_name_set_failure counts it and the handshake goes on without SNI (the origin
    sees none). The name is still what the leaf is checked against: DISABLED goes through,
    ENFORCED refuses it as a name mismatch."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address, sni=LONG_NAME,
                            client={"verify_server_policy": policy})
        v = visit(gw, pki, ORIGIN_NAME)
        if policy == "DISABLED":
            assert_passed(v, None)
        else:
            assert_refused(v, o)
    s = settled(gw, ssl_sni_name_set_failure=1)
    assert s["ssl_sni_name_set_failure"] == 1, s
    assert s["ssl_origin_verify_name_mismatch"] == (1 if policy == "ENFORCED" else 0), s


# --------------------------------------------------------------------------------------
# Chains and depth
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("served, passes", [("chain", True), ("chain-leaf", False)])
def test_chain_through_an_intermediate(gateway, pki, opki, served, passes):
    """S19: ca_certs holds only the root. An origin that sends its leaf and the intermediate
    passes; the same leaf sent alone cannot be chained (unknown CA)."""
    with origin(opki, served) as o:
        gw = origin_gateway(gateway, opki, o.address)
        v = visit(gw, pki, ORIGIN_NAME)
        if passes:
            assert_passed(v, ORIGIN_NAME)
        else:
            assert_refused(v, o)
    s = settled(gw, **({"ssl_total_success_handshake_count_out": 1} if passes
                       else {"ssl_origin_verify_unknown_ca": 1}))
    assert s["ssl_origin_verify_unknown_ca"] == (0 if passes else 1), s
    assert s["ssl_total_success_handshake_count_out"] == (1 if passes else 0), s


@pytest.mark.parametrize("depth, passes", [(1, False), (2, True)])
def test_verify_depth(gateway, pki, opki, depth, passes):
    """verify_depth with OpenSSL's meaning (the number of intermediates allowed between the
    leaf and the trust anchor): an origin sending leaf <- intermediate 2 <- intermediate 1
    (root in ca_certs) is refused under 1 ("certificate chain too long", counted under
    ssl_origin_verify_other) and passes under 2."""
    with origin(opki, "deep") as o:
        gw = origin_gateway(gateway, opki, o.address, client={"verify_depth": depth})
        v = visit(gw, pki, ORIGIN_NAME)
        if passes:
            assert_passed(v, ORIGIN_NAME)
        else:
            assert_refused(v, o)
    s = settled(gw, **({"ssl_total_success_handshake_count_out": 1} if passes
                       else {"ssl_origin_verify_other": 1}))
    assert s["ssl_origin_verify_other"] == (0 if passes else 1), s
    assert s["ssl_origin_verify_failure"] == (0 if passes else 1), s


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
