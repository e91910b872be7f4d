"""The pebble fixture (pebble.py) on its own, without tlsgate: its directory answers over
HTTPS verified with the fixture's CA bundle (and not without it), its DNS answers what
set_a says, its roots parse, it stops and starts again on the same ports, and a minimal
ACME client gets a certificate whose http-01 challenge pebble validated on http_port."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import random
import socket
import ssl
import struct
import threading
import time
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conftest import scaled
from pebble import pebble, pebble_factory  # noqa: F401  (fixtures)
from pki import run_openssl

A, AAAA = 1, 28


def dns_query(port: int, name: str, qtype: int) -> list[str]:
    """The addresses of one UDP DNS query to 127.0.0.1:port (RFC 1035 section 4.1)."""
    qid = random.randrange(1 << 16)
    question = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack(
        ">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(scaled(5))
        s.sendto(packet, ("127.0.0.1", port))
        reply = s.recv(4096)
    rid, _, _, ancount, _, _ = struct.unpack(">HHHHHH", reply[:12])
    assert rid == qid
    pos = 12 + len(question) + 4
    addresses = []
    for _ in range(ancount):
        pos = skip_name(reply, pos)
        rtype, _, _, rdlength = struct.unpack(">HHIH", reply[pos:pos + 10])
        rdata = reply[pos + 10:pos + 10 + rdlength]
        pos += 10 + rdlength
        if rtype == qtype == A:
            addresses.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == qtype == AAAA:
            addresses.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return addresses


def skip_name(msg: bytes, pos: int) -> int:
    while True:
        length = msg[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return pos + 2
        pos += 1 + length


def test_directory_answers_over_https_verified_with_the_fixture_ca(pebble):
    directory = pebble.directory()
    for key in ("newAccount", "newNonce", "newOrder"):
        assert directory[key].startswith(f"https://127.0.0.1:{pebble.acme_port}/"), directory
    # The bundle is what makes it verify: the system's store does not know pebble's CA.
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(pebble.directory_url, context=ssl.create_default_context(),
                               timeout=scaled(10))
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError), e.value


def test_dns_answers_loopback_by_default_and_what_set_a_says(pebble):
    assert dns_query(pebble.dns_port, "a.acme.test", A) == ["127.0.0.1"]
    # No AAAA: pebble would dial ::1 first, where tlsgate does not listen.
    assert dns_query(pebble.dns_port, "a.acme.test", AAAA) == []
    pebble.set_a("b.acme.test", "127.0.0.2")
    assert dns_query(pebble.dns_port, "b.acme.test", A) == ["127.0.0.2"]
    assert dns_query(pebble.dns_port, "a.acme.test", A) == ["127.0.0.1"]
    pebble.clear_a("b.acme.test")
    assert dns_query(pebble.dns_port, "b.acme.test", A) == ["127.0.0.1"]


def test_roots_parse_and_the_intermediate_chains_to_the_root(pebble, tmp_path):
    roots = pebble.fetch_roots(tmp_path / "roots.pem")
    text = roots.read_text()
    assert text.count("-----BEGIN CERTIFICATE-----") == 2, text
    root_pem, inter_pem = [p + "-----END CERTIFICATE-----\n"
                           for p in text.split("-----END CERTIFICATE-----")[:2]]
    (tmp_path / "root.pem").write_text(root_pem.strip() + "\n")
    (tmp_path / "inter.pem").write_text(inter_pem.strip() + "\n")
    out = run_openssl("verify", "-CAfile", str(tmp_path / "root.pem"),
                      str(tmp_path / "inter.pem"))
    assert out.strip().endswith(": OK"), out


def test_no_order_before_any_client_and_stop_start_on_the_same_ports(pebble, tmp_path):
    assert pebble.orders_placed() == 0 and pebble.certificates_issued() == 0
    first_roots = pebble.fetch_roots(tmp_path / "first.pem").read_text()
    url = pebble.directory_url
    pebble.stop()
    assert not pebble.running()
    with pytest.raises(OSError):
        pebble.directory()
    pebble.start()
    assert pebble.running() and pebble.directory_url == url
    assert pebble.directory()["newOrder"].startswith(f"https://127.0.0.1:{pebble.acme_port}/")
    # A new pebble is a new CA.
    assert pebble.fetch_roots(tmp_path / "second.pem").read_text() != first_roots
    assert "Starting Pebble" in pebble.log_text(current_only=True)


# -- validation reaches http_port through the fixture's DNS: a minimal ACME client -------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MiniAcmeClient:
    """RFC 8555 with ES256, just enough for one http-01 order: proves that pebble's
    validation authority reaches `http_port` on 127.0.0.1 (tlsgate's http-01 listener's
    place) through pebble-challtestsrv, with no validation switched off."""

    def __init__(self, server):
        self.server, self.ctx = server, server.ssl_context()
        self.key = ec.generate_private_key(ec.SECP256R1())
        n = self.key.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC", "x": b64url(n.x.to_bytes(32, "big")),
                    "y": b64url(n.y.to_bytes(32, "big"))}
        canonical = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        self.thumbprint = b64url(hashlib.sha256(canonical).digest())
        self.dir, self.kid = server.directory(), None

    def nonce(self) -> str:
        req = urllib.request.Request(self.dir["newNonce"], method="HEAD")
        with urllib.request.urlopen(req, context=self.ctx, timeout=scaled(10)) as r:
            return r.headers["Replay-Nonce"]

    def post(self, url: str, payload) -> tuple[dict, bytes]:
        for _ in range(10):  # badNonce (5% of good nonces) is retried
            head = {"alg": "ES256", "nonce": self.nonce(), "url": url}
            head.update({"kid": self.kid} if self.kid else {"jwk": self.jwk})
            signed = b64url(json.dumps(head).encode()) + "." + (
                "" if payload is None else b64url(json.dumps(payload).encode()))
            r, s = decode_dss_signature(self.key.sign(signed.encode(),
                                                      ec.ECDSA(hashes.SHA256())))
            protected, body = signed.split(".")
            jws = {"protected": protected, "payload": body,
                   "signature": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}
            req = urllib.request.Request(url, data=json.dumps(jws).encode(),
                                         headers={"Content-Type": "application/jose+json"})
            try:
                with urllib.request.urlopen(req, context=self.ctx, timeout=scaled(10)) as resp:
                    return dict(resp.headers), resp.read()
            except urllib.error.HTTPError as e:
                text = e.read()
                if b"badNonce" not in text:
                    raise AssertionError(f"{url}: {e.code} {text!r}")
        raise AssertionError("badNonce ten times")

    def poll(self, url: str, done) -> dict:
        deadline = time.monotonic() + scaled(30)
        while True:
            obj = json.loads(self.post(url, None)[1])
            if done(obj["status"]) or time.monotonic() > deadline:
                return obj
            time.sleep(0.1)

    def issue_http01(self, name: str, tokens: dict) -> bytes:
        headers, _ = self.post(self.dir["newAccount"], {"termsOfServiceAgreed": True})
        self.kid = headers["Location"]
        headers, body = self.post(self.dir["newOrder"],
                                  {"identifiers": [{"type": "dns", "value": name}]})
        order_url, order = headers["Location"], json.loads(body)
        [authz_url] = order["authorizations"]
        authz = json.loads(self.post(authz_url, None)[1])
        [chal] = [c for c in authz["challenges"] if c["type"] == "http-01"]
        tokens[chal["token"]] = f"{chal['token']}.{self.thumbprint}"
        self.post(chal["url"], {})
        authz = self.poll(authz_url, lambda s: s != "pending")
        assert authz["status"] == "valid", authz
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), False).sign(
            leaf_key, hashes.SHA256())
        self.post(order["finalize"],
                  {"csr": b64url(csr.public_bytes(serialization.Encoding.DER))})
        order = self.poll(order_url, lambda s: s in ("valid", "invalid"))
        assert order["status"] == "valid", order
        return self.post(order["certificate"], None)[1]


class Http01Responder(http.server.BaseHTTPRequestHandler):
    tokens: dict[str, str] = {}
    hosts: list[str] = []

    def do_GET(self):  # noqa: N802
        self.hosts.append(self.headers.get("Host", ""))
        answer = self.tokens.get(self.path.rsplit("/", 1)[-1])
        self.send_response(200 if answer else 404)
        self.end_headers()
        if answer:
            self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


def test_an_http_01_order_is_validated_on_http_port_and_issued(pebble, tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", pebble.http_port), Http01Responder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        chain = MiniAcmeClient(pebble).issue_http01("a.acme.test", Http01Responder.tokens)
    finally:
        server.shutdown()
        server.server_close()
    # pebble's VA asked for the name, on the port (Host: a.acme.test:<http_port>).
    assert f"a.acme.test:{pebble.http_port}" in Http01Responder.hosts
    assert pebble.orders_placed() == 1 and pebble.certificates_issued() == 1
    (tmp_path / "chain.pem").write_bytes(chain)
    roots = pebble.fetch_roots(tmp_path / "roots.pem")
    out = run_openssl("verify", "-CAfile", str(roots), "-untrusted", str(tmp_path / "chain.pem"),
                      str(tmp_path / "chain.pem"))
    assert out.strip().endswith(": OK"), out
