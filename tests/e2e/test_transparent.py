"""Transparent listeners (S5, S9, S11) through a real TPROXY set-up in network namespaces.

The client (client ns) connects to the origin's address (origin ns); gw diverts the
connection to tlsgate's transparent listener, which sees the original destination as its
local address. See netns.py for the bed. The gateway runs in the gw namespace; clients and
origin servers are threads of this process whose sockets live in their namespaces, or
`curl` / `openssl s_client` run with `nsenter --net` (TproxyBed.wrapper).

Needs root and TPROXY (xt_TPROXY, policy routing); otherwise every test is skipped with the
command the kernel refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import STANDARD_MULTICERT, scaled
from netns import NsServer, TproxyBed, recv_exactly
from upstreams import TcpServer
from pki import fingerprint_from_openssl_output, fingerprint_of_pem, run_openssl
from tlsclient import SClient, client_context, http_get

TLS_PORT = 443      # the origin's TLS server
HTTP_PORT = 80      # the origin's plain HTTP server
GREET_PORT = 2525   # the origin's server that speaks first (SMTP-like)
BLOB_PORT = 9000    # the origin's bulk exchange server (64 MiB test)
HTTP_TOKEN = "origin-http-7f3a"
GREETING = b"220 origin greeting\r\n"


# --------------------------------------------------------------------------------------
# Fixtures: the bed, the origin's certificate, the origin's servers
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bed():
    with TproxyBed() as b:
        yield b


@dataclass(frozen=True)
class OriginCert:
    crt: Path
    key: Path
    sha256: str
    subject: str


@pytest.fixture(scope="module")
def origin_cert(tmp_path_factory) -> OriginCert:
    """A self-signed certificate that tlsgate does not have: seeing it proves a tunnel."""
    d = tmp_path_factory.mktemp("origin")
    crt, key = d / "origin.crt", d / "origin.key"
    run_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2",
                "-subj", "/CN=origin.test", "-addext", "subjectAltName=DNS:origin.test")
    sha = fingerprint_from_openssl_output(
        run_openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", str(crt)))
    return OriginCert(crt, key, sha, subject_of_pem(crt.read_text()))


def subject_of_pem(pem: str) -> str:
    out = run_openssl("x509", "-noout", "-subject", "-nameopt", "RFC2253", input=pem.encode())
    return out.strip().split("=", 1)[1].strip()


def tls_origin_handler(cert: OriginCert):
    """Per connection: TLS handshake with the origin's certificate, then
    `origin-tls sni=<SNI seen>\\n`, then reads until the client goes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert.crt), str(cert.key))
    seen = threading.local()

    def on_sni(_sslsock, name, _ctx):
        seen.sni = name

    ctx.sni_callback = on_sni

    def handler(conn: socket.socket, record: dict) -> None:
        seen.sni = None
        tls = ctx.wrap_socket(conn, server_side=True)
        record["sni"] = seen.sni
        record["handshake"] = True
        try:
            tls.sendall(f"origin-tls sni={seen.sni}\n".encode())
            while tls.recv(65536):
                pass
        except (ssl.SSLError, OSError):
            pass  # clients such as s_client may just drop the connection
        finally:
            tls.close()
    return handler


def http_origin_handler(conn: socket.socket, record: dict) -> None:
    """A minimal HTTP/1.1 server: reads the request head, answers 200 with a token."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            return
        head += chunk
    record["request_line"] = head.split(b"\r\n", 1)[0].decode(errors="replace")
    body = json.dumps({"token": HTTP_TOKEN, "request": record["request_line"]}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


def greet_handler(conn: socket.socket, record: dict) -> None:
    """Speaks first, then waits for the client to go."""
    conn.sendall(GREETING)
    while conn.recv(65536):
        pass


@dataclass
class Origin:
    tls: TcpServer
    http: TcpServer
    greet: TcpServer


@pytest.fixture
def origin(bed, origin_cert):
    """The origin's servers on 0.0.0.0 in the origin namespace, fresh for each test."""
    o, t = bed.origin, scaled(10)
    with NsServer(bed.listen(o, ("0.0.0.0", TLS_PORT)), tls_origin_handler(origin_cert),
                  timeout=t) as tls, \
            NsServer(bed.listen(o, ("0.0.0.0", HTTP_PORT)), http_origin_handler,
                     timeout=t) as http, \
            NsServer(bed.listen(o, ("0.0.0.0", GREET_PORT)), greet_handler, timeout=t) as greet:
        yield Origin(tls, http, greet)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def transparent_gateway(gateway, bed, multicert=None, passthrough=True):
    """tlsgate in the gw namespace, one transparent listener on the TPROXY port."""
    return gateway(wrapper=bed.wrapper(bed.gw),
                   listeners=[bed.transparent_listener(passthrough)],
                   multicert=multicert if multicert is not None else STANDARD_MULTICERT)


def with_line(line: str) -> list[str]:
    """The standard multicert with `line` inserted before the default (dest_ip=*)."""
    return STANDARD_MULTICERT[:-1] + [line, STANDARD_MULTICERT[-1]]


def counter(stats: dict, name: str) -> int:
    assert name in stats, f"no counter {name!r} in stats: {sorted(stats)}"
    return stats[name]


def s_client_in(bed, ns: str, host: str, port: int, sni: str) -> SClient:
    """`openssl s_client` run in `ns`, stdin empty (it leaves after the handshake)."""
    try:
        p = bed.run(ns, "openssl", "s_client", "-connect", f"{host}:{port}",
                    "-servername", sni, input=b"", timeout=scaled(10))
    except subprocess.TimeoutExpired:
        return SClient(-1, f"openssl s_client to {host}:{port}: no end after "
                           f"{scaled(10)} s")
    return SClient(p.returncode, p.stdout.decode(errors="replace") + "\n"
                   + p.stderr.decode(errors="replace"))


def tls_from_client(bed, host: str, port: int, ctx: ssl.SSLContext,
                    sni: str | None) -> ssl.SSLSocket:
    raw = bed.connect(bed.client, (host, port), timeout=scaled(5))
    try:
        return ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


def no_verify() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def eventually(predicate, timeout: float) -> bool:
    """Polls predicate() until it holds or the timeout passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def read_line(sock, limit: int = 4096) -> bytes:
    line = b""
    while not line.endswith(b"\n") and len(line) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        line += chunk
    return line


# --------------------------------------------------------------------------------------
# The bed itself
# --------------------------------------------------------------------------------------

def test_tproxy_bed_preserves_original_destination(bed, origin):
    """The bed: a client's connection to the origin's address (or to any address) lands on
    an IP_TRANSPARENT listener in gw, whose accepted socket reports the client's original
    destination as local address and the client's own address as peer; the origin never
    sees it. From gw itself the origin is reachable (the path a tunnel takes)."""
    with bed.listen(bed.gw, ("0.0.0.0", bed.port), transparent=True) as proxy:
        proxy.settimeout(scaled(5))
        for dest in ((bed.origin_ip, TLS_PORT), ("192.0.2.10", 8080)):  # 192.0.2/24: TEST-NET-1
            with bed.connect(bed.client, dest, timeout=scaled(5)) as c:
                conn, peer = proxy.accept()
                with conn:
                    assert conn.getsockname() == dest
                    assert peer == c.getsockname()
                    assert peer[0] == bed.client_ip
                    conn.sendall(f"{conn.getsockname()[0]}:{conn.getsockname()[1]}\n".encode())
                    assert read_line(c) == f"{dest[0]}:{dest[1]}\n".encode()
    assert origin.tls.records == [], "the client's connection bypassed the TPROXY rule"
    # gw -> origin is routed normally.
    with bed.connect(bed.gw, (bed.origin_ip, GREET_PORT), timeout=scaled(5)) as c:
        assert read_line(c) == GREETING
    assert origin.greet.wait_finished(1, scaled(5))
    assert origin.greet.records[0]["peer"][0] == bed.gw_origin_ip


# --------------------------------------------------------------------------------------
# S5: dest_ip=<original destination> action=tunnel
# --------------------------------------------------------------------------------------

def test_dest_ip_tunnel_shows_origin_certificate(gateway, bed, origin, origin_cert):
    """S5: with `dest_ip=<origin ip> ... action=tunnel`, `openssl s_client` to the origin's
    address through the transparent listener sees the ORIGIN's certificate, even with an
    SNI (a.test) that tlsgate has a certificate for: the tunnel is decided before any byte
    is read. The origin receives the client's ClientHello (SNI a.test); dest_ip_tunnels
    counts it, passthrough_tunnels does not."""
    gw = transparent_gateway(gateway, bed, with_line(
        f"dest_ip={bed.origin_ip} ssl_cert_name=a.crt ssl_key_name=a.key action=tunnel"))
    r = s_client_in(bed, bed.client, bed.origin_ip, TLS_PORT, "a.test")
    assert r.handshake_ok, r.out
    assert r.certs_pem, r.out
    leaf = r.certs_pem[0]
    assert subject_of_pem(leaf) == origin_cert.subject, "the client did not see the origin"
    assert fingerprint_of_pem(leaf) == origin_cert.sha256
    assert eventually(lambda: any("sni" in rec for rec in origin.tls.records), scaled(5)), (
        f"the origin did not complete a handshake: {origin.tls.records}")
    assert [rec.get("sni") for rec in origin.tls.records] == ["a.test"], origin.tls.records
    s = gw.wait_stats(lambda s: s.get("dest_ip_tunnels", 0) >= 1)
    assert counter(s, "dest_ip_tunnels") == 1, s
    assert counter(s, "passthrough_tunnels") == 0, s
    assert counter(s, "connections_accepted") == 1, s


def test_dest_ip_tunnel_opens_before_the_client_speaks(gateway, bed, origin):
    """S5: the dest_ip tunnel is opened at accept, before tlsgate reads a byte: an origin
    that speaks first (SMTP-like, any port of the origin ip) reaches a client that has sent
    nothing."""
    gw = transparent_gateway(gateway, bed, with_line(
        f"dest_ip={bed.origin_ip} ssl_cert_name=a.crt ssl_key_name=a.key action=tunnel"))
    with bed.connect(bed.client, (bed.origin_ip, GREET_PORT), timeout=scaled(5)) as c:
        try:
            got = read_line(c)
        except socket.timeout:
            got = b"<timeout: nothing came>"
        assert got == GREETING
    s = gw.wait_stats(lambda s: s.get("dest_ip_tunnels", 0) >= 1)
    assert counter(s, "dest_ip_tunnels") == 1, s


# --------------------------------------------------------------------------------------
# S9: passthrough of a first byte that is not TLS
# --------------------------------------------------------------------------------------

def test_passthrough_plain_http_reaches_origin(gateway, bed, origin):
    """S9: on a passthrough listener, plain HTTP (`curl http://<origin ip>:80/`, first byte
    'G', not 0x16) is tunnelled blind to the original destination: curl gets the origin's
    answer, the origin got the request, and tlsgate counted one accepted connection and one
    passthrough tunnel (and no dest_ip tunnel)."""
    gw = transparent_gateway(gateway, bed)
    before = gw.stats()
    p = bed.run(bed.client, "curl", "-sS", "--noproxy", "*", "--max-time", str(scaled(5)),
                f"http://{bed.origin_ip}:{HTTP_PORT}/hello", timeout=scaled(15))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    answer = json.loads(p.stdout)
    assert answer == {"token": HTTP_TOKEN, "request": "GET /hello HTTP/1.1"}
    assert origin.http.wait_finished(1, scaled(5))
    assert len(origin.http.records) == 1
    s = gw.wait_stats(lambda s: s.get("passthrough_tunnels", 0) > before.get(
        "passthrough_tunnels", 0))
    assert counter(s, "passthrough_tunnels") - counter(before, "passthrough_tunnels") == 1, s
    assert counter(s, "connections_accepted") - counter(before, "connections_accepted") == 1, s
    assert counter(s, "dest_ip_tunnels") == 0, s


def test_passthrough_64mib_both_ways_intact(gateway, bed):
    """S9: a tunnel forwards every byte: 64 MiB up and a different 64 MiB down, at the
    same time, through a passthrough tunnel, arrive intact (length and SHA-256 on each
    side)."""
    size = 64 * 1024 * 1024
    up = b"UPLOAD\n" + os.urandom(size - 7)        # first byte 'U': not TLS
    down = b"DOWNLOAD\n" + os.urandom(size - 9)
    up_sha, down_sha = hashlib.sha256(up).hexdigest(), hashlib.sha256(down).hexdigest()

    def origin_handler(conn: socket.socket, record: dict) -> None:
        sender = threading.Thread(target=conn.sendall, args=(down,), daemon=True)
        sender.start()
        h = hashlib.sha256()
        record["received"] = recv_exactly(conn, size, h.update)
        record["sha256"] = h.hexdigest()
        sender.join(scaled(10))
        record["sent_all"] = not sender.is_alive()

    gw = transparent_gateway(gateway, bed)
    # Timeouts are per read or write (a stall), not for the whole transfer.
    with NsServer(bed.listen(bed.origin, ("0.0.0.0", BLOB_PORT)), origin_handler,
                  timeout=scaled(10)) as blob:
        with bed.connect(bed.client, (bed.origin_ip, BLOB_PORT), timeout=scaled(10)) as c:
            sent = {}

            def send():
                try:
                    c.sendall(up)
                    sent["ok"] = True
                except OSError as e:
                    sent["error"] = repr(e)

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            h = hashlib.sha256()
            got = recv_exactly(c, size, h.update)
            sender.join(scaled(10))
            assert sent == {"ok": True}, sent
            assert got == size, f"client got {got} of {size} bytes"
            assert h.hexdigest() == down_sha, "download corrupted"
        assert blob.wait_finished(1, scaled(30)), "origin still reading"
        assert not blob.errors, blob.errors
        rec = blob.records[0]
        assert rec["received"] == size, f"origin got {rec['received']} of {size} bytes"
        assert rec["sha256"] == up_sha, "upload corrupted"
        assert rec["sent_all"]
    s = gw.wait_stats(lambda s: s.get("passthrough_tunnels", 0) >= 1)
    assert counter(s, "passthrough_tunnels") == 1, s


# --------------------------------------------------------------------------------------
# No tunnel: TLS terminated, the original destination visible
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dest_ip_line, expected", [
    (None, "default"),
    ("dest_ip={origin_ip} ssl_cert_name=a.crt ssl_key_name=a.key", "a"),
], ids=["no-entry-default-cert", "dest-ip-entry-without-tunnel"])
def test_transparent_terminates_with_original_destination(gateway, pki, bed, origin,
                                                          dest_ip_line, expected):
    """Without action=tunnel, TLS to <origin ip>:443 is terminated by tlsgate: the client
    (no SNI) gets tlsgate's certificate chosen by the ORIGINAL destination (S11 dest_ip:
    the default one, or a.crt when `dest_ip=<origin ip>` names it), and builtin:inspect
    reports local = "<origin ip>:443" and client = the client's own address. The origin
    sees nothing; no tunnel is counted."""
    multicert = (with_line(dest_ip_line.format(origin_ip=bed.origin_ip))
                 if dest_ip_line else STANDARD_MULTICERT)
    gw = transparent_gateway(gateway, bed, multicert)
    ctx = client_context(pki.ca, check_hostname=False)
    with tls_from_client(bed, bed.origin_ip, TLS_PORT, ctx, None) as s:
        me = s.getsockname()
        status, _, body = http_get(s, bed.origin_ip, close=True)
        der = s.getpeercert(binary_form=True)
    assert status == 200
    assert hashlib.sha256(der).hexdigest() == pki.fingerprint(expected)
    j = json.loads(body)
    assert j["local"] == f"{bed.origin_ip}:{TLS_PORT}", j
    assert j["client"] == f"{me[0]}:{me[1]}", j
    assert j["certificate"]["sha256"] == pki.fingerprint(expected), j
    assert origin.tls.records == []
    s = gw.wait_stats(lambda s: s.get("inspect_requests", 0) >= 1)
    assert counter(s, "connections_accepted") == 1, s
    assert counter(s, "dest_ip_tunnels") == 0, s
    assert counter(s, "passthrough_tunnels") == 0, s


# --------------------------------------------------------------------------------------
# S11: an SNI entry with action=tunnel goes to the original destination
# --------------------------------------------------------------------------------------

def test_sni_tunnel_goes_to_original_destination(gateway, pki, bed, origin, origin_cert):
    """S11 on a transparent listener: the entry for b.crt carries action=tunnel, so a
    client sending SNI www.b.test is tunnelled to the original destination (<origin ip>:443)
    with its ClientHello replayed: it sees the origin's certificate, the origin sees
    SNI www.b.test. On the same gateway a.test is still terminated by tlsgate (local =
    the original destination). dest_ip_tunnels counts the one tunnel."""
    multicert = [l + " action=tunnel" if l.startswith("ssl_cert_name=b.crt ") else l
                 for l in STANDARD_MULTICERT]
    assert multicert != STANDARD_MULTICERT
    gw = transparent_gateway(gateway, bed, multicert)
    with tls_from_client(bed, bed.origin_ip, TLS_PORT, no_verify(), "www.b.test") as s:
        der = s.getpeercert(binary_form=True)
        line = read_line(s)
    assert hashlib.sha256(der).hexdigest() == origin_cert.sha256, (
        "client did not see the origin's certificate")
    assert line == b"origin-tls sni=www.b.test\n"
    assert [r.get("sni") for r in origin.tls.records] == ["www.b.test"], origin.tls.records

    ctx = client_context(pki.ca, check_hostname=False)
    with tls_from_client(bed, bed.origin_ip, TLS_PORT, ctx, "a.test") as s:
        status, _, body = http_get(s, "a.test", close=True)
        der = s.getpeercert(binary_form=True)
    assert status == 200
    assert hashlib.sha256(der).hexdigest() == pki.fingerprint("a")
    assert json.loads(body)["local"] == f"{bed.origin_ip}:{TLS_PORT}"
    assert len(origin.tls.records) == 1, "a.test was tunnelled too"

    s = gw.wait_stats(lambda s: s.get("dest_ip_tunnels", 0) >= 1)
    assert counter(s, "dest_ip_tunnels") == 1, s
    assert counter(s, "passthrough_tunnels") == 0, s
    assert counter(s, "connections_accepted") == 2, s
