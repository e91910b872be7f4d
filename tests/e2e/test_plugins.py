"""The example plugins, end to end: cert_loader (certificates loaded on demand from a folder
of PEM files, off the reactor thread) and sni_policy_example (tunnel / deny / terminate per
server name at CLIENT_HELLO). Real clients, the real binary, certificates made at test time.

The 10,000 certificates of the cert_loader tests share one EC P-256 key (made with the
`openssl` command, as is their test CA) and are signed in-process with Python's
`cryptography` (OpenSSL underneath): one `openssl x509 -req` process per certificate costs
~50 ms of CPU here, i.e. minutes for 10,000, where signing in-process takes seconds.

With CERT_LOADER_VERBOSE set, cert_loader prints `cert_loader: loaded <file> (<n> cached)`
per file it parses; the tests count those lines.
"""

from __future__ import annotations

import datetime
import random
import re
import resource
import selectors
import socket
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import Gateway, GatewayStartError, scaled
from tlsclient import (HOST, client_context, client_hello_bytes, inspect,
                       s_client, through_tunnel, tls_connect, wait_closed)
from upstreams import TlsServer

N_CERTS = 10_000
LOAD_DOMAIN = "load.test"
LOADED_RE = re.compile(r"^cert_loader: loaded (?P<file>\S+) \((?P<n>\d+) cached\)$")


def load_name(i: int) -> str:
    return f"n{i}.{LOAD_DOMAIN}"


# --------------------------------------------------------------------------------------
# The certificate folder (session fixture: made once, ~10 s)
# --------------------------------------------------------------------------------------

class LoadCerts:
    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "certs"        # what cert_loader gets as --dir
        self.ca = root / "load-ca.crt"   # what clients verify against

    def file(self, name: str) -> Path:
        return self.dir / f"{name}.pem"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def load_certs(tmp_path_factory) -> LoadCerts:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    root = tmp_path_factory.mktemp("load-certs")
    lc = LoadCerts(root)
    lc.dir.mkdir()
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _openssl("genpkey", *ec, "-out", "load-ca.key", cwd=root)
    _openssl("req", "-x509", "-new", "-key", "load-ca.key", "-subj", "/CN=cert_loader test CA",
             "-days", "30", "-sha256", "-out", "load-ca.crt", cwd=root)
    _openssl("genpkey", *ec, "-out", "leaf.key", cwd=root)

    ca_key = serialization.load_pem_private_key((root / "load-ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate(lc.ca.read_bytes())
    leaf_key_pem = (root / "leaf.key").read_bytes()
    leaf_pub = serialization.load_pem_private_key(leaf_key_pem, None).public_key()
    now = datetime.datetime.utcnow()

    def write(stem: str, dns: str, serial: int, key_first: bool) -> None:
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
                .issuer_name(ca.subject)
                .public_key(leaf_pub)
                .serial_number(serial)
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        # Both orders occur in real folders; cert_loader must not care.
        (lc.dir / f"{stem}.pem").write_bytes(leaf_key_pem + pem if key_first else pem + leaf_key_pem)

    for i in range(N_CERTS):
        write(load_name(i), load_name(i), i + 1, key_first=i % 2 == 1)
    write(f"*.wild.{LOAD_DOMAIN}", f"*.wild.{LOAD_DOMAIN}", N_CERTS + 1, key_first=False)
    # A name with its own file AND covered by the wildcard: the own file wins.
    write(f"own.wild.{LOAD_DOMAIN}", f"own.wild.{LOAD_DOMAIN}", N_CERTS + 2, key_first=False)
    # A broken file: falls back to tlsgate's own certificate.
    (lc.dir / f"broken.{LOAD_DOMAIN}.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    # Outside --dir, reachable only through a path traversal.
    write(f"outside.{LOAD_DOMAIN}", f"outside.{LOAD_DOMAIN}", N_CERTS + 3, key_first=False)
    (lc.dir / f"outside.{LOAD_DOMAIN}.pem").rename(root / f"outside.{LOAD_DOMAIN}.pem")
    return lc


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def cert_loader_so(plugin_dir) -> Path:
    return plugin_dir / "cert_loader.so"


@pytest.fixture(scope="session")
def sni_policy_so(plugin_dir) -> Path:
    return plugin_dir / "sni_policy_example.so"


@pytest.fixture
def verbose(monkeypatch):
    """tlsgate (and so cert_loader) inherits the environment: turn on its load lines."""
    monkeypatch.setenv("CERT_LOADER_VERBOSE", "1")


def loader_gw(gateway, so: Path, lc: LoadCerts, *extra: str, **kwargs) -> Gateway:
    return gateway(plugins=[{"path": so, "args": ["--dir", lc.dir, *extra]}], **kwargs)


def loaded_files(gw: Gateway) -> list[str]:
    return [m["file"] for m in (LOADED_RE.match(l) for l in list(gw.lines)) if m]


def loaded_files_once(gw: Gateway, count: int) -> list[str]:
    """loaded_files once `count` loads are in the log (or after a while): the handshake a
    load served can end before the test's stderr reader has the plugin's line."""
    deadline = time.monotonic() + scaled(10)
    while len(loaded_files(gw)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return loaded_files(gw)


def served_cn(port: int, ctx: ssl.SSLContext, sni: str | None) -> str:
    """Handshake (verified by ctx) and the subject CN of the certificate the client got."""
    with tls_connect(port, ctx, sni, timeout=scaled(20)) as s:
        subject = dict(rdn[0] for rdn in s.getpeercert()["subject"])
        return subject["commonName"]


def served_der(port: int, ctx: ssl.SSLContext, sni: str | None) -> bytes:
    with tls_connect(port, ctx, sni, timeout=scaled(20)) as s:
        return s.getpeercert(binary_form=True)


def der_of(crt: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(crt.read_text())


def s_client_subject(port: int, sni: str) -> str | None:
    r = s_client(port, "-brief", sni=sni, timeout=scaled(20))
    # -brief prints e.g. "Peer certificate: CN = n5.load.test" (OpenSSL 3.0) or
    # "Peer certificate: CN=n5.load.test" (3.5): the 3.0 form either way.
    subject = r.field(r"^Peer certificate: (.*)$")
    return re.sub(r"\s*=\s*", " = ", subject) if subject is not None else None


# --------------------------------------------------------------------------------------
# cert_loader
# --------------------------------------------------------------------------------------

def test_cert_loader_serves_each_name_its_certificate(gateway, pki, cert_loader_so,
                                                       load_certs):
    """10,000 certificates in the folder, none loaded at start: a random sample of names
    (plus the first and the last) each gets its own certificate, verified against the test
    CA with hostname checking, concurrently from 16 clients."""
    gw = loader_gw(gateway, cert_loader_so, load_certs, "--threads", "2")
    ctx = client_context(load_certs.ca)
    rng = random.Random(20261130)
    indexes = [0, N_CERTS - 1] + rng.sample(range(1, N_CERTS - 1), 200)
    with ThreadPoolExecutor(16) as pool:
        cns = list(pool.map(lambda i: served_cn(gw.port, ctx, load_name(i)), indexes))
    assert cns == [load_name(i) for i in indexes]
    # And tlsgate's builtin:inspect answers over such a connection.
    r = inspect(gw.port, ctx, load_name(42), timeout=scaled(20))
    assert r.status == 200 and r.json["sni"] == load_name(42)


def test_cert_loader_wildcard_and_fallbacks(gateway, pki, cert_loader_so, load_certs,
                                            verbose):
    """x.wild.load.test comes from "*.wild.load.test.pem" (parsed once, shared by the next
    name it covers); a name with its own file beats the wildcard; an unknown name, a broken
    file, a name with no SNI at all and names that are not plain host names get tlsgate's
    default certificate (ssl_multicert.config); uppercase SNI is lowercased."""
    gw = loader_gw(gateway, cert_loader_so, load_certs)
    ctx = client_context(load_certs.ca)
    assert served_cn(gw.port, ctx, f"x.wild.{LOAD_DOMAIN}") == f"*.wild.{LOAD_DOMAIN}"
    assert served_cn(gw.port, ctx, f"y.wild.{LOAD_DOMAIN}") == f"*.wild.{LOAD_DOMAIN}"
    assert served_cn(gw.port, ctx, f"own.wild.{LOAD_DOMAIN}") == f"own.wild.{LOAD_DOMAIN}"
    # The wildcard covers one label only: no "*.wild.load.test" for a.b.wild.load.test.
    default = der_of(pki.crt("default"))
    anyca = client_context(pki.ca, check_hostname=False)
    assert served_der(gw.port, anyca, f"a.b.wild.{LOAD_DOMAIN}") == default

    for sni in (f"nosuch.{LOAD_DOMAIN}", f"broken.{LOAD_DOMAIN}", "nodots", None):
        assert served_der(gw.port, anyca, sni) == default, sni
    # Not a plain host name: never turned into a path (outside.load.test.pem lives one
    # folder up; a traversal would serve it).
    for sni in (f"../outside.{LOAD_DOMAIN}", f"certs/../../outside.{LOAD_DOMAIN}",
                f"n1..{LOAD_DOMAIN}", f"n1.{LOAD_DOMAIN}/x", "*.wild.load.test"):
        assert s_client_subject(gw.port, sni) == "CN = default.test", sni
    assert s_client_subject(gw.port, "N7.LOAD.Test") == f"CN = n7.{LOAD_DOMAIN}"

    files = loaded_files(gw)
    assert files.count(f"*.wild.{LOAD_DOMAIN}.pem") == 1, files
    assert sorted(files) == sorted([f"*.wild.{LOAD_DOMAIN}.pem", f"own.wild.{LOAD_DOMAIN}.pem",
                                    f"n7.{LOAD_DOMAIN}.pem"]), files
    assert any(f"broken.{LOAD_DOMAIN}.pem" in l and "cannot use" in l for l in gw.lines), \
        gw.stderr_text()


def test_cert_loader_warm_cache(gateway, cert_loader_so, load_certs, verbose):
    """The second request for a name is served from the cache: one "loaded" line per name,
    however many times it is asked for; 20 simultaneous first requests for one cold name
    also make one load."""
    gw = loader_gw(gateway, cert_loader_so, load_certs, "--threads", "2")
    ctx = client_context(load_certs.ca)
    names = [load_name(i) for i in (3, 5, 8, 13)]
    for _ in range(3):
        for n in names:
            assert served_cn(gw.port, ctx, n) == n
    cold = load_name(21)
    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(lambda _: served_cn(gw.port, ctx, cold), range(20))) == {cold}
    files = loaded_files(gw)
    assert sorted(files) == sorted(f"{n}.pem" for n in names + [cold]), files
    # "(<n> cached)" counts up: 1, 2, ...
    counts = [int(LOADED_RE.match(l)["n"]) for l in gw.lines if LOADED_RE.match(l)]
    assert counts == list(range(1, len(files) + 1)), counts


def test_cert_loader_lru_evicts(gateway, cert_loader_so, load_certs, verbose):
    """--cache 3: a fourth name evicts the least recently used; asking for it again loads
    it again, while a name kept warm is not reloaded."""
    gw = loader_gw(gateway, cert_loader_so, load_certs, "--cache", "3")
    ctx = client_context(load_certs.ca)
    a, b, c, d = (load_name(i) for i in (100, 101, 102, 103))
    for n in (a, b, c, a, d):  # d evicts b (a was used again after b)
        assert served_cn(gw.port, ctx, n) == n
    assert served_cn(gw.port, ctx, a) == a   # still cached
    assert served_cn(gw.port, ctx, b) == b   # evicted: loaded again
    files = loaded_files_once(gw, 5)
    assert files == [f"{n}.pem" for n in (a, b, c, d, b)], files
    counts = [int(LOADED_RE.match(l)["n"]) for l in gw.lines if LOADED_RE.match(l)]
    assert counts == [1, 2, 3, 3, 3], counts


def _raise_fd_limit(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < n:
        pytest.skip(f"needs {n} file descriptors")


def test_cert_loader_reactor_serves_while_loading(gateway, pki, cert_loader_so, load_certs,
                                                  verbose):
    """One tlsgate thread, one loader thread, a batch of 1500 cold names whose ClientHellos
    all arrive at once: while the loader works through them (each after a 2 ms --delay-ms, so
    that the batch takes seconds whatever the library's parsing speed), a client without
    SNI (which cert_loader does not hold) completes its handshake and an inspect request
    before the batch is done. Then every batch connection gets its ServerHello.

    The batch connects first and tlsgate accepts it (its stats say so) before any
    ClientHello is sent: accept is first come first served, so a probe queued behind 1500
    connections would measure the accept queue, not the plugin."""
    batch = 1500
    _raise_fd_limit(batch + 200)
    gw = loader_gw(gateway, cert_loader_so, load_certs, "--threads", "1", "--cache", "5000",
                   "--delay-ms", "2", threads=1)
    names = [load_name(i) for i in range(2000, 2000 + batch)]
    hellos = [client_hello_bytes(n) for n in names]  # made before the clock matters

    socks = []
    try:
        for _ in hellos:
            socks.append(socket.create_connection((HOST, gw.port), timeout=scaled(20)))
        st = gw.wait_stats(lambda st: st["connections_accepted"] >= batch, timeout=60)
        assert st["connections_accepted"] >= batch, st
        for s, h in zip(socks, hellos):
            s.sendall(h)
        loads_before = len(loaded_files(gw))
        # The probe: no SNI, so cert_loader re-enables at once with tlsgate's certificate.
        r = inspect(gw.port, client_context(pki.ca, check_hostname=False), None,
                    timeout=scaled(20))
        loads_at_probe = len(loaded_files(gw))
        assert r.status == 200 and r.json["sni"] is None

        # Every batch connection gets its ServerHello (a handshake record) eventually.
        pending = len(socks)
        with selectors.DefaultSelector() as sel:  # select() stops at fd 1024
            for s in socks:
                sel.register(s, selectors.EVENT_READ)
            deadline = time.monotonic() + scaled(120)
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(1.0):
                    data = key.fileobj.recv(5)
                    assert data[:1] == b"\x16", (data, pending)
                    sel.unregister(key.fileobj)
                    pending -= 1
        assert not pending, f"{pending} of {batch} connections got no ServerHello"
    finally:
        for s in socks:
            s.close()
    # Only now are all loads done; the probe finished while many were still to come.
    assert len(loaded_files(gw)) == batch
    print(f"probe: {loads_before} loads done before it, {loads_at_probe} after, of {batch}")
    assert loads_at_probe < batch, (
        f"the probe only completed after all {batch} loads: the reactor was blocked")


def test_cert_loader_argument_errors(tlsgate_bin, pki, tmp_path, cert_loader_so, load_certs):
    """Bad arguments: cert_loader's init returns non-zero, tlsgate refuses to start and
    names the plugin, next to cert_loader's own explanation."""
    cases = [[], ["--threads", "2"], ["--dir", str(tmp_path / "nope")],
             ["--dir", str(load_certs.dir), "--threads", "0"],
             ["--dir", str(load_certs.dir), "--cache", "many"],
             ["--dir", str(load_certs.dir), "--bogus", "1"],
             ["--dir"]]
    for k, args in enumerate(cases):
        gw = Gateway(tlsgate_bin, tmp_path / f"gw{k}", pki,
                     plugins=[{"path": cert_loader_so, "args": args}])
        with pytest.raises(GatewayStartError):
            gw.start()
        rc = gw.stop()
        err = gw.stderr_text()
        assert rc > 0, (args, rc, err)
        tlsgate_lines = [l for l in err.splitlines() if not l.startswith("cert_loader (")]
        assert any("cert_loader.so" in l for l in tlsgate_lines), (args, err)
        assert "cert_loader (" in err, (args, err)
    # The one that matters most says what is missing.
    assert "--dir" in err


# --------------------------------------------------------------------------------------
# sni_policy_example
# --------------------------------------------------------------------------------------

TUNNEL_CN = "policy-tunnel.test"


@pytest.fixture(scope="session")
def tunnel_cert(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate whose subject none of tlsgate's certificates has."""
    d = tmp_path_factory.mktemp("policy-tunnel")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-days", "30", "-subj", f"/CN={TUNNEL_CN}", "-keyout", "t.key", "-out", "t.crt",
             cwd=d)
    return d / "t.crt", d / "t.key"


def raw_hello_outcome(port: int, sni: str) -> tuple[str, bytes]:
    """Sends a ClientHello on a plain socket; returns how the connection ended and what came
    back."""
    with socket.create_connection((HOST, port), timeout=scaled(10)) as s:
        s.sendall(client_hello_bytes(sni))
        how, _, data = wait_closed(s, scaled(10))
        return how, data


def test_sni_policy_tunnel_deny_terminate(gateway, pki, sni_policy_so, tunnel_cert):
    """--tunnel: the client gets the tunnel server's certificate (TLS not terminated by
    tlsgate) and that server saw the client's SNI; exact and one-label wildcard patterns;
    --deny: the connection is closed without a byte (no ServerHello, no alert); any other
    name is terminated by tlsgate as usual (builtin:inspect answers)."""
    crt, key = tunnel_cert
    with TlsServer(crt, key) as up:
        gw = gateway(plugins=[{"path": sni_policy_so, "args": [
            "--tunnel", f"pass.test={up.address}",
            "--tunnel", f"*.tun.test={up.address}",
            "--deny", "blocked.test", "--deny", "*.blocked.test",
        ]}])
        for sni in ("pass.test", "x.tun.test", "X.Tun.Test"):
            der, line = through_tunnel(gw.port, sni, timeout=scaled(20))
            assert der == der_of(crt), sni
            assert line == f"tunnel-server sni={sni}\n".encode(), (sni, line)
        assert up.wait_finished(3, scaled(10)), up.records
        assert not up.errors, up.errors

        for sni in ("blocked.test", "a.blocked.test"):
            how, data = raw_hello_outcome(gw.port, sni)
            assert how in ("eof", "reset") and data == b"", (sni, how, data)

        ctx = client_context(pki.ca)
        # Other names, including ones a wildcard does not cover (two labels, the bare
        # parent), are tlsgate's.
        for sni in ("a.test", "www.b.test"):
            r = inspect(gw.port, ctx, sni, timeout=scaled(10))
            assert r.status == 200 and r.json["sni"] == sni
        anyca = client_context(pki.ca, check_hostname=False)
        for sni in ("tun.test", "y.x.tun.test", "blocked.test.example", None):
            r = inspect(gw.port, anyca, sni, timeout=scaled(10))
            assert r.status == 200 and r.json["sni"] == sni, sni
            assert r.peer_der == der_of(pki.crt("default")), sni
        assert len(up.records) == 3, "a name that matches no --tunnel reached the tunnel"


def test_sni_policy_default_terminate(gateway, pki, sni_policy_so):
    """--default terminate: names no rule matches, and connections without SNI, are closed
    without a byte, like denied ones (with --tunnel rules this is an allow list)."""
    gw = gateway(plugins=[{"path": sni_policy_so,
                           "args": ["--deny", "blocked.test", "--default", "terminate"]}])
    for sni in ("a.test", "blocked.test"):
        how, data = raw_hello_outcome(gw.port, sni)
        assert how in ("eof", "reset") and data == b"", (sni, how, data)
    with socket.create_connection((HOST, gw.port), timeout=scaled(10)) as s:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(s, server_hostname=None)


def test_sni_policy_argument_errors(tlsgate_bin, pki, tmp_path, sni_policy_so):
    cases = [["--tunnel", "a.test"], ["--tunnel", "a.test=nohostport"],
             ["--tunnel", "a.*.test=127.0.0.1:1"], ["--deny", "x*.test"],
             ["--default", "maybe"], ["--allow", "a.test"], ["--deny"]]
    for k, args in enumerate(cases):
        gw = Gateway(tlsgate_bin, tmp_path / f"gw{k}", pki,
                     plugins=[{"path": sni_policy_so, "args": args}])
        with pytest.raises(GatewayStartError):
            gw.start()
        rc = gw.stop()
        err = gw.stderr_text()
        assert rc > 0, (args, rc, err)
        assert any("sni_policy_example.so" in l for l in err.splitlines()
                   if not l.startswith("sni_policy_example (")), (args, err)
        assert "sni_policy_example (" in err, (args, err)
