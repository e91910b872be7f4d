"""tlsgate as a TLS client towards origins (S17, S18, S19, S20): re-encrypting routes
(`routes: default: {upstream: ..., tls: true}`, sni.yaml `partial_blind_route`) and the
`ssl: client:` section.

Every origin is a real TLS server (upstreams.OriginServer, Python ssl) presenting a
certificate made at test time (origin_pki.py). It answers each connection with one JSON
line saying what it saw (the SNI, whether the session was resumed, tlsgate's client
certificate), then echoes; the downstream client reads that line through tlsgate.

A refused origin: the downstream client completed its own handshake with tlsgate, then
gets a close_notify and not one byte from the origin.

This file: verification of the origin (S17, S19): policies and failure kinds, names
(S18), chains and depth. Client certificates, sessions, timeouts and per-name overrides:
test_origin_client.py. Shared helpers: origin_route.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from origin_pki import ORIGIN_NAME, WILDCARD_DOMAIN
from origin_route import (ALL_VERIFY_COUNTERS, CA_FILE, FAILURES, REASON_COUNTERS,
                          assert_passed, assert_refused, lines_with, origin, origin_gateway,
                          settled, visit, wait_line)
from origin_route import opki  # noqa: F401  (the session fixture)
from pki import run_openssl


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
