"""OCSP stapling from files (ssl_ocsp_name): a fresh response for the certificate is
stapled when the client asks (`s_client -status`); an expired one, or one about another
certificate, is not (counted and logged); a file that is not an OCSP response is a
configuration error naming ssl_multicert.config's line."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from conftest import Gateway, scaled
from pki import run_openssl

REQUEST = b"GET / HTTP/1.0\r\n\r\n"

_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
"""

_EXT = {
    "leaf": "basicConstraints = critical,CA:FALSE\nextendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:{name}.test\n",
    "responder": "basicConstraints = critical,CA:FALSE\nextendedKeyUsage = OCSPSigning\n",
}


class OcspPki:
    """A CA, an OCSP responder it delegates to, and two leaves (ocsp.test, other.test)."""

    def __init__(self, d: Path):
        self.d = d
        d.mkdir(parents=True, exist_ok=True)
        (d / "x.cnf").write_text(_CNF)
        env_cnf = ["-config", str(d / "x.cnf")]
        run_openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"),
                    "-out", str(d / "ca.crt"), "-subj", "/CN=tlsgate OCSP test CA", "-days", "2",
                    *env_cnf, "-extensions", "ca")
        for name, serial, ext in (("ocsp", 4660, "leaf"), ("other", 4661, "leaf"),
                                  ("responder", 7, "responder")):
            self._issue(name, serial, ext)

    def _issue(self, name: str, serial: int, ext: str) -> None:
        d = self.d
        (d / f"{name}.ext").write_text(_EXT[ext].format(name=name))
        run_openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"), "-subj",
                    f"/CN={name}.test", "-config", str(d / "x.cnf"))
        run_openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"),
                    "-CAkey", str(d / "ca.key"), "-set_serial", str(serial), "-days", "2",
                    "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.crt"))

    def response(self, leaf: str, out: str) -> Path:
        """A fresh 'good' response from the delegated responder, made by `openssl ocsp`."""
        d = self.d
        serial = format(x509.load_pem_x509_certificate((d / f"{leaf}.crt").read_bytes())
                        .serial_number, "X")
        (d / "index.txt").write_text(f"V\t301231000000Z\t\t{serial}\tunknown\t/CN={leaf}.test\n")
        run_openssl("ocsp", "-index", str(d / "index.txt"), "-rsigner", str(d / "responder.crt"),
                    "-rkey", str(d / "responder.key"), "-CA", str(d / "ca.crt"), "-issuer",
                    str(d / "ca.crt"), "-cert", str(d / f"{leaf}.crt"), "-respout", str(d / out),
                    "-ndays", "1")
        return d / out

    def expired_response(self, leaf: str, out: str) -> Path:
        """A 'good' response whose nextUpdate is yesterday, signed by the CA itself."""
        d = self.d
        ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
        ca_key = serialization.load_pem_private_key((d / "ca.key").read_bytes(), None)
        cert = x509.load_pem_x509_certificate((d / f"{leaf}.crt").read_bytes())
        now = datetime.datetime.utcnow()
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=ca, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - datetime.timedelta(days=2),
            next_update=now - datetime.timedelta(days=1),
            revocation_time=None, revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
        (d / out).write_bytes(builder.sign(ca_key, hashes.SHA256())
                              .public_bytes(serialization.Encoding.DER))
        return d / out


@pytest.fixture(scope="module")
def opki(tmp_path_factory) -> OcspPki:
    return OcspPki(tmp_path_factory.mktemp("ocsp-pki"))


def multicert(opki: OcspPki, response: Path) -> list[str]:
    d = opki.d
    return [f"ssl_cert_name={d / 'ocsp.crt'} ssl_key_name={d / 'ocsp.key'} "
            f"ssl_ca_name={d / 'ca.crt'} ssl_ocsp_name={response}",
            "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key"]


def s_client_status(port: int, *extra: str) -> str:
    proc = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                           "-servername", "ocsp.test", "-ign_eof", *extra],
                          input=REQUEST, capture_output=True, timeout=scaled(30))
    out = proc.stdout.decode(errors="replace")
    assert "HTTP/1.1 200" in out, out + proc.stderr.decode(errors="replace")
    return out


def test_a_fresh_response_is_stapled_when_asked(gateway, opki):
    gw = gateway(multicert=multicert(opki, opki.response("ocsp", "good.der")))
    out = s_client_status(gw.port, "-status")
    assert "OCSP Response Status: successful" in out, out
    assert "Cert Status: good" in out, out
    assert "Serial Number: 1234" in out, out  # about ocsp.test (serial 4660)
    assert gw.wait_stats(lambda s: s["ssl_ocsp_stapled"] == 1)["ssl_ocsp_stapled"] == 1
    # A client that does not ask gets no staple.
    out = s_client_status(gw.port)
    assert "OCSP Response Status" not in out
    stats = gw.stats()
    assert stats["ssl_ocsp_stapled"] == 1
    assert stats["ssl_ocsp_not_stapled_expired"] == 0
    assert stats["ssl_ocsp_not_stapled_mismatch"] == 0


def says_nothing_stapled(s_client_output: str) -> bool:
    """s_client -status saw no staple: OpenSSL 3.0 and 3.5 print the first line, 3.6 (Debian
    forky) the second."""
    return ("OCSP response: no response sent" in s_client_output
            or "OCSP responses: no responses sent" in s_client_output)


def test_an_expired_response_is_not_stapled(gateway, opki):
    gw = gateway(multicert=multicert(opki, opki.expired_response("ocsp", "expired.der")))
    assert any("has expired" in l for l in gw.lines), gw.stderr_text()  # warned at load
    out = s_client_status(gw.port, "-status")
    assert says_nothing_stapled(out), out
    stats = gw.wait_stats(lambda s: s["ssl_ocsp_not_stapled_expired"] == 1)
    assert stats["ssl_ocsp_not_stapled_expired"] == 1
    assert stats["ssl_ocsp_stapled"] == 0
    assert any("OCSP response" in l and "expired: not stapled" in l for l in gw.lines)


def test_a_response_for_another_certificate_is_not_stapled(gateway, opki):
    gw = gateway(multicert=multicert(opki, opki.response("other", "other.der")))
    assert any("is about none of the entry's certificates" in l for l in gw.lines), \
        gw.stderr_text()
    out = s_client_status(gw.port, "-status")
    assert says_nothing_stapled(out), out
    stats = gw.wait_stats(lambda s: s["ssl_ocsp_not_stapled_mismatch"] == 1)
    assert stats["ssl_ocsp_not_stapled_mismatch"] == 1
    assert stats["ssl_ocsp_stapled"] == 0


def test_a_file_that_is_not_an_ocsp_response_is_a_config_error(tlsgate_bin, pki, opki, tmp_path):
    bad = opki.d / "not-ocsp.der"
    bad.write_bytes((opki.d / "ocsp.crt").read_bytes())  # a certificate, not a response
    gw = Gateway(tlsgate_bin, tmp_path / "gw", pki, multicert=multicert(opki, bad))
    gw.write_files()
    r = subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"], capture_output=True,
                       text=True, timeout=scaled(30))
    assert r.returncode != 0
    assert "ssl_multicert.config:1: ssl_ocsp_name" in r.stderr, r.stderr
    assert "is not a DER OCSP response" in r.stderr, r.stderr
