"""Client certificates (ssl.verify_client, ATS's NONE / MODERATE / STRICT) and the
VERIFY_CLIENT hook, with real clients presenting certificates made at test time."""
from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Gateway, scaled
from tlsclient import client_context, inspect


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def client_pki(tmp_path_factory) -> dict[str, Path]:
    """A client CA with one client certificate (CN=alice), and a self-signed stranger."""
    d = tmp_path_factory.mktemp("client-pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-days", "30", "-subj", "/CN=client CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    _openssl("req", *ec, "-subj", "/CN=alice", "-keyout", "alice.key", "-out", "alice.csr", cwd=d)
    _openssl("x509", "-req", "-in", "alice.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "30", "-out", "alice.crt", cwd=d)
    _openssl("req", "-x509", *ec, "-days", "30", "-subj", "/CN=mallory",
             "-keyout", "mallory.key", "-out", "mallory.crt", cwd=d)
    return {n: d / n for n in ("ca.crt", "alice.crt", "alice.key", "mallory.crt", "mallory.key")}


def _ssl_yaml(level: str, pki: dict[str, Path]) -> str:
    return f"verify_client: {level}\nverify_client_ca_certs: {pki['ca.crt']}\n"


def _client(pki, server_pki, who: str | None) -> ssl.SSLContext:
    ctx = client_context(server_pki.ca)
    if who:
        ctx.load_cert_chain(str(pki[f"{who}.crt"]), str(pki[f"{who}.key"]))
    return ctx


def _request(gw, ctx):
    """The inspect answer, or the exception that stopped it (the server's verdict on a client
    certificate reaches a TLS 1.3 client only when it reads)."""
    try:
        return inspect(gw.port, ctx, "a.test", timeout=scaled(10))
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return e


def test_strict_requires_a_certificate(gateway, pki, client_pki):
    gw = gateway(extra_ssl_yaml=_ssl_yaml("STRICT", client_pki))
    refused = _request(gw, _client(client_pki, pki, None))
    assert isinstance(refused, Exception), "STRICT let a client without certificate in"
    ok = _request(gw, _client(client_pki, pki, "alice"))
    assert not isinstance(ok, Exception), ok
    assert ok.status == 200
    st = gw.wait_stats(lambda s: s["ssl_total_success_handshake_count_in"] == 1)
    assert st["ssl_total_success_handshake_count_in"] == 1, st


def test_strict_refuses_a_certificate_from_another_ca(gateway, pki, client_pki):
    gw = gateway(extra_ssl_yaml=_ssl_yaml("STRICT", client_pki))
    refused = _request(gw, _client(client_pki, pki, "mallory"))
    assert isinstance(refused, Exception), "a certificate of an unknown CA was accepted"
    st = gw.wait_stats(lambda s: s["ssl_client_certificate_failure"] >= 1)
    assert st["ssl_client_certificate_failure"] == 1, st


def test_moderate_lets_a_client_without_certificate_in(gateway, pki, client_pki):
    gw = gateway(extra_ssl_yaml=_ssl_yaml("MODERATE", client_pki))
    ok = _request(gw, _client(client_pki, pki, None))
    assert not isinstance(ok, Exception), ok
    assert ok.status == 200
    bad = _request(gw, _client(client_pki, pki, "mallory"))
    assert isinstance(bad, Exception), "MODERATE accepted a certificate that does not verify"


def test_none_requests_no_certificate(gateway, pki, client_pki):
    gw = gateway()
    ok = _request(gw, _client(client_pki, pki, "mallory"))  # offered, never asked for
    assert not isinstance(ok, Exception), ok


def test_verify_client_needs_ca_certs(tlsgate_bin, pki, tmp_path):
    g = Gateway(tlsgate_bin, tmp_path / "verify-no-ca", pki,
                extra_ssl_yaml="verify_client: STRICT\n")
    g.write_files()
    r = subprocess.run([tlsgate_bin, "-c", str(g.yaml_path), "--check"], capture_output=True,
                       text=True, timeout=scaled(30))
    assert r.returncode != 0
    assert "verify_client_ca_certs" in r.stderr and "tlsgate.yaml:" in r.stderr, r.stderr


@pytest.mark.parametrize("mode,accepted", [("immediate", True), ("error", False),
                                           ("delay", False)])
def test_verify_client_hook(gateway, pki, client_pki, plugin_dir, mode, accepted):
    """VERIFY_CLIENT runs on the verified leaf, synchronously: re-enable accepts; error
    rejects; a hook that would complete later cannot (OpenSSL cannot pause there)."""
    plugin = {"path": str(plugin_dir / "hook_test.so"),
              "args": ["--name", "V", "--hook", "verify_client", "--mode", mode, "--ms", "50"]}
    gw = gateway(extra_ssl_yaml=_ssl_yaml("STRICT", client_pki), plugins=[plugin])
    result = _request(gw, _client(client_pki, pki, "alice"))
    assert isinstance(result, Exception) != accepted, result
    deadline = time.monotonic() + scaled(5)
    while "hook_test[V]: verify_client" not in gw.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "hook_test[V]: verify_client" in gw.stderr_text(), gw.stderr_text()
    if not accepted:
        st = gw.wait_stats(lambda s: s["ssl_hook_error"] >= 1)
        assert st["ssl_hook_error"] == 1, st
