"""Configurations that cannot serve, or would serve wrongly, are refused with file:line:
a key of another type than its certificate (D3), an empty ssl_multicert.config (D5),
duplicate listeners and a second instance on a held address (D6), threads beyond the
bound (D10); an expired certificate is served but reported (D5); hostile bytes in a config
line are echoed short and escaped, and deep YAML nesting is named as such."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from admin_client import admin_yaml, get_json, parse_metrics, request
from conftest import SANITIZE, Gateway, GatewayStartError, scaled
from origin_pki import OriginPki
from pki import _REQ_CONFIG
from tlsclient import s_client


def check(tlsgate_bin, gw: Gateway) -> subprocess.CompletedProcess:
    gw.write_files()
    return subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                          capture_output=True, text=True, timeout=scaled(60))


def new_gateway(tlsgate_bin, pki, tmp_path, name="gw", **kw) -> Gateway:
    return Gateway(tlsgate_bin, tmp_path / name, pki, **kw)


# --- D3: a key of another type than its certificate ----------------------------------

@pytest.mark.parametrize("line", [
    "ssl_cert_name=dual-ec.crt ssl_key_name=dual-rsa.key",
    "ssl_cert_name=dual-rsa.crt ssl_key_name=dual-ec.key",
    "ssl_cert_name=dual-ec.crt,dual-rsa.crt ssl_key_name=dual-rsa.key,dual-rsa.key",
], ids=["ec-cert-rsa-key", "rsa-cert-ec-key", "dual-rsa-key-twice"])
def test_check_refuses_key_of_other_type(tlsgate_bin, pki, tmp_path, line):
    """D3: OpenSSL files a key of the other type in its own slot without a word; tlsgate
    checks each key against its certificate and names file:line, certificate and key."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path, multicert=[
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key", line])
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "configuration OK" not in p.stdout
    m = re.search(r"ssl_multicert\.config:2: private key does not match certificate "
                  r"'(\S+)' \(key '(\S+)'\)", p.stderr)
    assert m, p.stderr
    assert m.group(1).endswith("dual-ec.crt") or m.group(1).endswith("dual-rsa.crt")
    assert m.group(2).endswith(".key")


def test_reload_refuses_key_of_other_type(gateway):
    """D3: the same at a reload: it fails, /health says so, the old certificate serves."""
    gw = gateway(extra_yaml=admin_yaml())
    before = s_client(gw.port, sni="a.test").certs_pem[0]
    gw.multicert_path.write_text(
        "ssl_cert_name=dual-ec.crt ssl_key_name=dual-rsa.key\n"
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key\n")
    line = gw.reload()
    assert "reload failed" in line and "ssl_multicert.config:1: private key does not match" \
        in line, line
    health = get_json(gw, "/health")
    assert health["reload"]["last_ok"] is False, health
    assert s_client(gw.port, sni="a.test").certs_pem[0] == before


# --- D5: nothing to serve, expired certificates ---------------------------------------

@pytest.mark.parametrize("text", ["", "# only a comment\n\n"], ids=["empty", "comments"])
def test_check_refuses_empty_multicert(tlsgate_bin, pki, tmp_path, text):
    """D5: no certificate and nothing else to serve: every handshake would fail, so
    --check fails and says why."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path, multicert=text)
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{gw.multicert_path}: no certificate" in p.stderr, p.stderr


def test_empty_multicert_allowed_with_sni_tunnel(tlsgate_bin, pki, tmp_path):
    """D5: an sni.yaml tunnel_route serves without a certificate: that is accepted."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path, multicert="", extra_yaml="sni: sni.yaml",
                     files={"sni.yaml": "sni:\n  - fqdn: t.test\n    tunnel_route: 127.0.0.1:9\n"})
    p = check(tlsgate_bin, gw)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.fixture(scope="module")
def expired_pki(tmp_path_factory) -> OriginPki:
    """expired.crt / .key: CN=expired.test, valid from 10 days ago to yesterday."""
    p = OriginPki(tmp_path_factory.mktemp("expired-pki"))
    (p.root / "req.cnf").write_text(_REQ_CONFIG)
    p._self_signed_ca("origin-ca", "tlsgate e2e expired test CA")
    p._expired_leaf("expired", "expired.test", "DNS:expired.test", "origin-ca")
    return p


def test_expired_certificate_is_reported(gateway, expired_pki):
    """D5: an expired certificate loads (clients decide) but with a warning naming
    file:line and notAfter, the gauge tlsgate_certificates_expired, and /certs' expired."""
    gw = gateway(extra_yaml=admin_yaml(), multicert=[
        "ssl_cert_name=a.crt ssl_key_name=a.key",
        "ssl_cert_name=expired.crt ssl_key_name=expired.key",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ], files={"expired.crt": expired_pki.crt("expired").read_text(),
              "expired.key": expired_pki.key("expired").read_text()})
    warning = gw.wait_line(r"ssl_multicert\.config:2: certificate .*expired\.crt.* expired: "
                           r"notAfter \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert warning, gw.stderr_text()
    _, _, body = request(gw, "GET", "/metrics")
    metrics = parse_metrics(body)
    assert metrics[("tlsgate_certificates_expired", frozenset())] == 1, body
    certs = get_json(gw, "/certs")
    assert certs["expired"] == 1, certs
    by_file = {c["file"].rsplit("/", 1)[-1]: c for c in certs["certificates"]}
    assert by_file["expired.crt"]["expired"] is True
    assert by_file["a.crt"]["expired"] is False


# --- D6: duplicate listeners, a second instance ---------------------------------------

def test_check_refuses_duplicate_listener(tlsgate_bin, pki, tmp_path):
    """D6: the same listen address twice is a tlsgate.yaml:line error."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path,
                     listeners=["127.0.0.1:18443", "127.0.0.1:18444", "127.0.0.1:18443"])
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"tlsgate\.yaml:5: listener 127\.0\.0\.1:18443 is already listed at "
                     r"line 3", p.stderr), p.stderr


def test_second_instance_on_held_address_fails(gateway):
    """D6: a second tlsgate on the address the first one listens on does not come up and
    share its connections (SO_REUSEPORT): it fails with "Address already in use"."""
    first = gateway()
    address = f"127.0.0.1:{first.port}"
    second = gateway._new(listeners=[address])
    try:
        with pytest.raises(GatewayStartError) as e:
            second.start()
        assert second.proc.wait(scaled(10)) == 1
    finally:
        second.stop()  # when it did come up (the defect)
    assert re.search(rf"tlsgate\.yaml:3: cannot listen on {address}: Address already in use",
                     str(e.value)), str(e.value)
    assert s_client(first.port, sni="a.test").handshake_ok


def test_address_held_by_reuseport_socket_refused(gateway):
    """D6: also when the holder is another process's SO_REUSEPORT socket."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    address = f"127.0.0.1:{holder.getsockname()[1]}"
    gw = gateway._new(listeners=[address])
    try:
        with pytest.raises(GatewayStartError) as e:
            gw.start()
        assert "Address already in use" in str(e.value), str(e.value)
    finally:
        gw.stop()  # when it did come up (the defect)
        holder.close()


# --- D10: threads --------------------------------------------------------------------

def test_check_refuses_too_many_threads(tlsgate_bin, pki, tmp_path):
    """D10: threads: 100000 is a tlsgate.yaml:1 error, not an abort at start."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path, threads=100000)
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "tlsgate.yaml:1: threads must be an integer from 1 to 1024" in p.stderr, p.stderr


@pytest.mark.skipif(SANITIZE != "", reason="a sanitizer runtime cannot start under an "
                    "address-space limit (it reserves terabytes of shadow memory)")
def test_thread_creation_failure_is_an_error(tlsgate_bin, pki, tmp_path):
    """D10: when the system refuses a thread (here an address-space limit that 512 thread
    stacks exceed), tlsgate exits 1 with a message instead of aborting."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path, threads=512)
    gw.write_files()
    p = subprocess.run(["prlimit", f"--as={768 << 20}", "--"] + gw.command(),
                       capture_output=True, text=True, timeout=scaled(120))
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert re.search(r"cannot start thread \d+ of 512", p.stderr), p.stderr[-2000:]


# --- hostile bytes, deep nesting ----------------------------------------------------

def test_long_binary_multicert_line_is_echoed_short(tlsgate_bin, pki, tmp_path):
    """A 1 MB line with binary bytes: the message quotes at most 80 bytes, escaped."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path)
    gw.write_files()
    gw.multicert_path.write_bytes(b"ssl_cert_name=a.crt dest_ip=\x01\x1b[31m" + b"A" * (1 << 20)
                                  + b"\n")
    p = subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                       capture_output=True, timeout=scaled(60))
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 1, err[:500]
    assert len(p.stderr) < 1000, len(p.stderr)
    assert "\x1b" not in err and "\x01" not in err
    assert "ssl_multicert.config:1: bad dest_ip '\\x01\\x1b[31mAAA" in err, err
    assert "A\u2026'" in err, err


def test_deep_yaml_nesting_is_named(tlsgate_bin, pki, tmp_path):
    """100,000 nested sequences: "nested more than N levels deep", not "bad file"."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path)
    gw.write_files()
    with open(gw.yaml_path, "a") as f:
        f.write("padding: " + "[" * 100000 + "]" * 100000 + "\n")
    p = subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                       capture_output=True, text=True, timeout=scaled(60))
    assert p.returncode == 1, p.stderr
    assert re.search(r"invalid YAML: nested more than \d+ levels deep", p.stderr), p.stderr
