"""The pebble fixture (pebble.py) on its own, without tlsgate: its directory answers over
HTTPS verified with the fixture's CA bundle (and not without it), its DNS answers what
set_a says, its roots parse, and it stops and starts again on the same ports."""

from __future__ import annotations

import random
import socket
import ssl
import struct
import urllib.error
import urllib.request

import pytest

from conftest import scaled
from pebble import pebble  # noqa: F401  (the fixture)
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
