"""Certificate selection (S11, S15) and what the client sees of it."""

from __future__ import annotations

import hashlib
import ssl

import pytest

from conftest import scaled
from pki import fingerprint_of_pem
from tlsclient import client_context, inspect, s_client, tls_connect


def _expect_cert(result, pki, name: str) -> None:
    """The client received `name`'s certificate, and inspect reports the same one."""
    assert result.status == 200
    got = hashlib.sha256(result.peer_der).hexdigest()
    assert got == pki.fingerprint(name), (
        f"client saw certificate {got}, expected {name} ({pki.fingerprint(name)})")
    cert = result.json["certificate"]
    assert cert["subject"] == pki.subject(name)
    assert cert["sha256"] == pki.fingerprint(name)


@pytest.mark.parametrize("sni, expected", [
    ("a.test", "a"),
    ("alias-a.test", "a"),      # a DNS SAN that is not the CN
    ("b.test", "b"),            # only the CN (b.crt's SAN is www.b.test)
    ("www.b.test", "b"),
    ("chain.test", "chain"),
])
def test_sni_exact_gets_its_certificate(inspect_gw, pki, sni, expected):
    """S11/S15: an SNI name found in a certificate's CN or DNS SANs selects it (exact)."""
    ctx = client_context(pki.ca, check_hostname=False)
    r = inspect(inspect_gw.port, ctx, sni)
    _expect_cert(r, pki, expected)
    assert r.json["sni"] == sni


def test_sni_subject_seen_by_verifying_client(inspect_gw, pki):
    """S11: a.test and b.test each get their own certificate, verified against the test CA
    with host name checking (a.test) and by subject (b.test)."""
    ctx = client_context(pki.ca, check_hostname=True)
    with tls_connect(inspect_gw.port, ctx, "a.test") as s:
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        assert subject == {"commonName": "a.test"}
    ctx = client_context(pki.ca, check_hostname=True)
    with tls_connect(inspect_gw.port, ctx, "www.b.test") as s:
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        assert subject == {"commonName": "b.test"}


def test_wildcard_matches_one_label_only(inspect_gw, pki):
    """S11: x.wild.test matches *.wild.test; y.z.wild.test does not (one label only) and
    falls back to the default certificate."""
    ctx = client_context(pki.ca, check_hostname=False)
    r = inspect(inspect_gw.port, ctx, "x.wild.test")
    _expect_cert(r, pki, "wild")
    r = inspect(inspect_gw.port, ctx, "y.z.wild.test")
    _expect_cert(r, pki, "default")
    r = inspect(inspect_gw.port, ctx, "wild.test")
    _expect_cert(r, pki, "default")


def test_exact_name_beats_wildcard(gateway, pki):
    """S11: exact SNI match before wildcard, whatever the order of the lines: the wildcard
    listed first does not capture exact.wild.test, and still serves other.wild.test."""
    gw = gateway(multicert=[
        "ssl_cert_name=wild.crt ssl_key_name=wild.key",
        "ssl_cert_name=exact-wild.crt ssl_key_name=exact-wild.key",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ])
    ctx = client_context(pki.ca, check_hostname=False)
    _expect_cert(inspect(gw.port, ctx, "exact.wild.test"), pki, "exact-wild")
    _expect_cert(inspect(gw.port, ctx, "other.wild.test"), pki, "wild")


def test_unknown_sni_gets_default(inspect_gw, pki):
    """S11: no name matches → the default entry (dest_ip=*)."""
    ctx = client_context(pki.ca, check_hostname=False)
    r = inspect(inspect_gw.port, ctx, "unknown.test")
    _expect_cert(r, pki, "default")
    assert r.json["sni"] == "unknown.test"


def test_no_sni_gets_default(inspect_gw, pki):
    """S11: a client sending no SNI gets the destination-IP entry, else the default."""
    ctx = client_context(pki.ca, check_hostname=False)
    r = inspect(inspect_gw.port, ctx, None)
    _expect_cert(r, pki, "default")
    assert r.json["sni"] is None


def test_dest_ip_with_port_and_without(gateway, pki):
    """S11: destination-IP selection, ip:port before ip, both after SNI.

    Listener 1 is on a port chosen here (named in the multicert as 127.0.0.1:PORT → b.test);
    listener 2 is on port 0 and only matches dest_ip=127.0.0.1 (→ a.test)."""
    def kwargs(port):
        return dict(listeners=[f"127.0.0.1:{port}", "127.0.0.1:0"], multicert=[
            "dest_ip=127.0.0.1 ssl_cert_name=a.crt ssl_key_name=a.key",
            f"dest_ip=127.0.0.1:{port} ssl_cert_name=b.crt ssl_key_name=b.key",
            "ssl_cert_name=chain.crt ssl_key_name=chain.key ssl_ca_name=inter.crt",
            "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
        ])
    gw, port = gateway.with_free_port(kwargs)
    assert gw.ports[0] == port
    other = gw.ports[1]
    ctx = client_context(pki.ca, check_hostname=False)
    # No SNI: by destination.
    _expect_cert(inspect(port, ctx, None), pki, "b")
    _expect_cert(inspect(other, ctx, None), pki, "a")
    # Unknown SNI: still by destination (SNI matched nothing).
    _expect_cert(inspect(port, ctx, "nothing.test"), pki, "b")
    # A matching SNI beats the destination.
    _expect_cert(inspect(port, ctx, "chain.test"), pki, "chain")
    _expect_cert(inspect(other, ctx, "chain.test"), pki, "chain")


def test_dest_ip_without_port(gateway, pki):
    """S11: `dest_ip=127.0.0.1` (no port) selects the certificate for a no-SNI client on
    any port of that address, before the default."""
    gw = gateway(multicert=[
        "dest_ip=127.0.0.1 ssl_cert_name=b.crt ssl_key_name=b.key",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ])
    ctx = client_context(pki.ca, check_hostname=False)
    _expect_cert(inspect(gw.port, ctx, None), pki, "b")


def test_no_default_certificate_fails_handshake(gateway, pki):
    """S11/S15: without a dest_ip=* line the default entry has no certificate: an unmatched
    client gets a handshake alert and ssl_no_certificate counts; matched names still work."""
    gw = gateway(multicert=["ssl_cert_name=a.crt ssl_key_name=a.key"])
    ctx = client_context(pki.ca, check_hostname=False)
    with pytest.raises(ssl.SSLError) as e:
        inspect(gw.port, ctx, "unknown.test", timeout=scaled(10))
    # An alert from the server, not a dropped connection.
    assert "alert" in str(e.value).lower() or "handshake failure" in str(e.value).lower(), \
        str(e.value)
    s = gw.wait_stats(lambda s: s["ssl_no_certificate"] >= 1)
    assert s["ssl_no_certificate"] == 1, s
    # The configured name still works on the same gateway.
    _expect_cert(inspect(gw.port, ctx, "a.test"), pki, "a")
    assert gw.stats()["ssl_no_certificate"] == 1


def test_no_default_no_sni_fails_with_s_client(gateway, pki):
    """S11: no SNI and no default: openssl s_client sees an alert, not a certificate."""
    gw = gateway(multicert=["ssl_cert_name=a.crt ssl_key_name=a.key"])
    r = s_client(gw.port, "-CAfile", str(pki.ca), sni=None, timeout=scaled(20))
    assert not r.handshake_ok, r.out
    assert "alert" in r.out, r.out
    assert not r.certs_pem, r.out
    s = gw.wait_stats(lambda s: s["ssl_no_certificate"] >= 1)
    assert s["ssl_no_certificate"] == 1, s


def _server_cert_fingerprint(r) -> str:
    pems = r.certs_pem
    assert pems, r.out
    return fingerprint_of_pem(pems[0])


def test_dual_certificate_ecdsa_client_gets_ec(inspect_gw, pki):
    """S15: an entry with an RSA and an ECDSA certificate: an ECDSA-capable client gets the
    ECDSA one (TLS 1.3 and TLS 1.2)."""
    for version in ("-tls1_3", "-tls1_2"):
        r = s_client(inspect_gw.port, version, "-sigalgs", "ECDSA+SHA256",
                     "-CAfile", str(pki.ca), sni="dual.test", timeout=scaled(20))
        assert r.handshake_ok, r.out
        assert "Server public key is 256 bit" in r.out, r.out
        assert _server_cert_fingerprint(r) == pki.fingerprint("dual-ec")
        assert "Verify return code: 0 (ok)" in r.out, r.out
    # A default client offers both; ECDSA is preferred.
    r = s_client(inspect_gw.port, "-CAfile", str(pki.ca), sni="dual.test", timeout=scaled(20))
    assert r.handshake_ok, r.out
    assert _server_cert_fingerprint(r) == pki.fingerprint("dual-ec"), r.out
    # Python's client too, and inspect reports the certificate actually used.
    res = inspect(inspect_gw.port, client_context(pki.ca), "dual.test")
    assert hashlib.sha256(res.peer_der).hexdigest() == pki.fingerprint("dual-ec")
    assert res.json["certificate"]["sha256"] == pki.fingerprint("dual-ec")


def test_dual_certificate_rsa_only_client_gets_rsa(inspect_gw, pki):
    """S15: the same dual entry gives an RSA-only client the RSA certificate."""
    for version, sigalgs in (("-tls1_3", "RSA-PSS+SHA256"),
                             ("-tls1_2", "RSA-PSS+SHA256:RSA+SHA256")):
        r = s_client(inspect_gw.port, version, "-sigalgs", sigalgs,
                     "-CAfile", str(pki.ca), sni="dual.test", timeout=scaled(20))
        assert r.handshake_ok, r.out
        assert "Server public key is 2048 bit" in r.out, r.out
        # "RSA-PSS" (OpenSSL 3.0) or "rsa_pss_rsae_sha256" (3.5).
        assert "RSA" in (r.field(r"^Peer signature type: (\S+)") or "").upper(), r.out
        assert _server_cert_fingerprint(r) == pki.fingerprint("dual-rsa")
        assert "Verify return code: 0 (ok)" in r.out, r.out


def test_chain_sends_intermediate(inspect_gw, pki):
    """S15: ssl_ca_name's intermediate is sent after the leaf, so a client trusting only
    the root verifies the chain."""
    r = s_client(inspect_gw.port, "-showcerts", "-CAfile", str(pki.ca), sni="chain.test",
                 timeout=scaled(20))
    assert r.handshake_ok, r.out
    pems = r.certs_pem
    assert len(pems) == 2, r.out
    assert fingerprint_of_pem(pems[0]) == pki.fingerprint("chain")
    assert fingerprint_of_pem(pems[1]) == pki.fingerprint("inter")
    assert "Verify return code: 0 (ok)" in r.out, r.out
    # And Python's verifying client agrees.
    ctx = client_context(pki.ca, check_hostname=True)
    r2 = inspect(inspect_gw.port, ctx, "chain.test")
    assert r2.json["certificate"]["sha256"] == pki.fingerprint("chain")
