"""The ACME client (acme:) against Debian's pebble, validation for real (pebble.py):
issuance through tls-alpn-01 and http-01, the http-01 listener's redirect and 404,
acme-tls/1 offered to validation only, the state dir across a restart, renewal without a
reload, a CA outage, and `--check` on a bad directory or account key.

Every test waits on /certs or the counters with generous deadlines (60 s), never on a
fixed sleep, except to show that something does NOT happen (no new order)."""

from __future__ import annotations

import datetime
import os
import secrets
import socket
import ssl
import stat
import subprocess
import threading
import time
from pathlib import Path

from admin_client import admin_yaml, get_json, metric, parse_metrics, request
from conftest import Gateway, scaled
from origin_pki import _CA_CONFIG
from pebble import Pebble, pebble, pebble_factory  # noqa: F401  (fixtures)
from pki import _LEAF_EXT, _REQ_CONFIG, Pki, run_openssl
from tlsclient import s_client, tls_connect

NAMES = ["a.acme.test", "www.a.acme.test"]
CERT_ID = NAMES[0]  # the state name: the first name
ACME_IDENTIFIER_OID = bytes.fromhex("06082b0601050507011f")  # 1.3.6.1.5.5.7.1.31, DER
WAIT = 60.0


# -- configuration ---------------------------------------------------------------------

def acme_yaml(pebble: Pebble, tmp: Path, *, challenges=("tls-alpn-01",), key_type="ecdsa",
              renew_remaining: float = 0.33, directory: str | None = None,
              account_key: Path | None = None) -> str:
    return admin_yaml() + "\n".join([
        "acme:",
        f"  directory: {directory or pebble.directory_url}",
        f"  ca_file: {pebble.ca_bundle}",
        '  contact: ["mailto:ops@example.test"]',
        f"  account_key: {account_key or tmp / 'account.key'}",
        f"  state_dir: {tmp / 'acme-state'}",
        f"  key_type: {key_type}",
        f"  challenges: [{', '.join(challenges)}]",
        f"  renew_remaining: {renew_remaining}",
        f'  http_listener: {{address: "127.0.0.1:{pebble.http_port}", redirect_https: true}}',
        "  certificates:",
        f"    - names: [{', '.join(NAMES)}]",
    ]) + "\n"


def start(gateway, pebble: Pebble, tmp: Path, **kwargs):
    """tlsgate with its TLS listener on the port pebble validates tls-alpn-01 at."""
    return gateway(listeners=[f"127.0.0.1:{pebble.tls_port}"],
                   extra_yaml=acme_yaml(pebble, tmp, **kwargs))


def state_files(tmp: Path) -> tuple[Path, Path]:
    d = tmp / "acme-state" / "certificates"
    return d / f"{CERT_ID}.pem", d / f"{CERT_ID}.key"


# -- what tlsgate reports ----------------------------------------------------------------

def acme_certs(gw) -> list[dict]:
    """The /certs entries whose source is acme, wherever /certs lists them."""
    body = get_json(gw, "/certs")
    lists = [v for v in body.values() if isinstance(v, list)] if isinstance(body, dict) \
        else [body]
    return [c for entries in lists for c in entries
            if isinstance(c, dict) and c.get("source") == "acme"]


def counters(gw) -> dict:
    return get_json(gw, "/stats")["counters"]


def wait_for(what: str, gw, check, timeout: float = WAIT):
    """Polls check() until it returns something true; fails naming `what` after timeout."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        assert gw.alive(), f"tlsgate exited while waiting for {what}:\n{gw.stderr_text()}"
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s; counters "
                                 f"{counters(gw)}; stderr:\n{gw.stderr_text()}")
        time.sleep(0.2)


def wait_issued(gw) -> dict:
    """The acme /certs entry once it has a certificate."""
    def issued():
        entries = [c for c in acme_certs(gw) if c.get("not_after")]
        return entries[0] if entries else None
    return wait_for("ACME certificate in /certs", gw, issued)


# -- what a client sees ------------------------------------------------------------------

def served_leaf(port: int, name: str, cafile: Path, *args: str) -> str:
    """The leaf PEM of a handshake for `name` that must verify against `cafile`, for that
    name (-verify_return_error: a chain that does not verify fails the handshake)."""
    r = s_client(port, "-verify_return_error", "-CAfile", str(cafile), "-verify_hostname",
                 name, "-showcerts", *args, sni=name)
    assert r.handshake_ok and "Verify return code: 0 (ok)" in r.out, r.out
    return r.certs_pem[0]


def serial(pem: str | Path) -> str:
    text = Path(pem).read_text() if isinstance(pem, Path) else pem
    return run_openssl("x509", "-noout", "-serial", input=text.encode()).strip()


def sans(pem: str) -> list[str]:
    out = run_openssl("x509", "-noout", "-ext", "subjectAltName", input=pem.encode())
    return sorted(p.strip()[4:] for p in out.splitlines()[1].split(",") if p.strip())


def not_after(pem: str) -> datetime.datetime:
    text = run_openssl("x509", "-noout", "-enddate", input=pem.encode()).strip()
    return datetime.datetime.strptime(text.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z") \
        .replace(tzinfo=datetime.timezone.utc)


def to_epoch(value) -> float:
    """A /certs time: seconds since the epoch, or "YYYY-MM-DDTHH:MM:SSZ" as not_after is."""
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def is_challenge_cert(der: bytes) -> bool:
    return ACME_IDENTIFIER_OID in der


def check_issued(gw, pebble: Pebble, tmp: Path, key_algorithm: str) -> str:
    """Both names served, chained to pebble's root, the state files written: the serial."""
    entry = wait_issued(gw)
    assert sorted(entry["names"]) == sorted(NAMES), entry
    roots = pebble.fetch_roots(tmp / "pebble-roots.pem")
    leaves = [served_leaf(gw.port, name, roots) for name in NAMES]
    assert serial(leaves[0]) == serial(leaves[1])
    assert sans(leaves[0]) == sorted(NAMES)
    assert f"Public Key Algorithm: {key_algorithm}" in run_openssl(
        "x509", "-noout", "-text", input=leaves[0].encode())
    chain, key = state_files(tmp)
    assert serial(chain) == serial(leaves[0])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp / "account.key").stat().st_mode) == 0o600
    return serial(leaves[0])


# -- (a) tls-alpn-01 -----------------------------------------------------------------------

def test_tls_alpn_01_gets_a_certificate_for_every_name_chained_to_pebble(gateway, pebble,
                                                                        tmp_path):
    gw = start(gateway, pebble, tmp_path, challenges=["tls-alpn-01"], key_type="ecdsa")
    check_issued(gw, pebble, tmp_path, "id-ecPublicKey")
    c = counters(gw)
    assert c["acme_orders"] == 1 and c["acme_orders_failed"] == 0, c
    assert c["acme_tls_alpn_validations"] >= len(NAMES), c  # pebble connected for each
    assert c["acme_http_validations"] == 0 and c["acme_renewals"] == 0, c
    assert pebble.orders_placed() == 1 and pebble.certificates_issued() == 1

    m = parse_metrics(request(gw, "GET", "/metrics")[2])
    for name in ("orders", "orders_failed", "renewals", "failures", "tls_alpn_validations",
                 "http_validations"):
        assert metric(m, f"tlsgate_acme_{name}_total") == c[f"acme_{name}"], name
    end = not_after(state_files(tmp_path)[0].read_text())
    left = (end - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert abs(metric(m, "tlsgate_acme_certificate_expiry_seconds",
                      certificate=CERT_ID) - left) < 120
    entry = acme_certs(gw)[0]
    assert time.time() < to_epoch(entry["next_renewal"]) < to_epoch(entry["not_after"]), entry
    assert to_epoch(entry["not_after"]) == end.timestamp(), entry


# -- (b) http-01 and the http listener --------------------------------------------------

def http_get(port: int, host: str, path: str) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(10)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                  .encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    status = int(head[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in head[1:] if ":" in line)}
    return status, headers


def test_http_01_gets_a_certificate_and_the_listener_redirects_and_404s(gateway, pebble,
                                                                       tmp_path):
    gw = start(gateway, pebble, tmp_path, challenges=["http-01"], key_type="rsa")
    check_issued(gw, pebble, tmp_path, "rsaEncryption")
    c = counters(gw)
    assert c["acme_http_validations"] >= len(NAMES), c
    assert c["acme_tls_alpn_validations"] == 0 and c["acme_orders_failed"] == 0, c

    status, headers = http_get(pebble.http_port, "a.acme.test", "/some/page?x=1")
    assert status in (301, 308), (status, headers)
    assert headers["location"] == "https://a.acme.test/some/page?x=1", headers
    status, headers = http_get(pebble.http_port, "www.a.acme.test", "/")
    assert status in (301, 308) and headers["location"] == "https://www.a.acme.test/"
    token = secrets.token_urlsafe(32)
    status, _ = http_get(pebble.http_port, "a.acme.test", f"/.well-known/acme-challenge/{token}")
    assert status == 404


# -- (c) acme-tls/1 for validation only ----------------------------------------------------

def offer_only_acme_tls(port: int, name: str) -> tuple[str | None, bytes | None]:
    """(negotiated ALPN, leaf DER) of a client offering only acme-tls/1; (None, None) when
    the handshake fails (a no_application_protocol alert is a correct answer)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    try:
        with tls_connect(port, ctx, name, timeout=scaled(10)) as s:
            return s.selected_alpn_protocol(), s.getpeercert(binary_form=True)
    except (ssl.SSLError, ConnectionError):
        return None, None


class OrdinaryClients(threading.Thread):
    """Handshakes for `name` without acme-tls/1, back to back, keeping each leaf."""

    def __init__(self, port: int, name: str):
        super().__init__(daemon=True)
        self.port, self.name = port, name
        self.leaves: list[bytes] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        while not self.stopping.is_set():
            try:
                with tls_connect(self.port, ctx, self.name, timeout=scaled(10)) as s:
                    self.leaves.append(s.getpeercert(binary_form=True))
            except (OSError, ssl.SSLError):
                time.sleep(0.01)


def test_acme_tls_1_is_negotiated_for_pending_challenges_only(gateway, pebble_factory,
                                                              tmp_path):
    # pebble waits 0 to 2 s before each validation connection: the challenge certificates
    # stay in place a while, under the ordinary clients' eyes.
    slow = pebble_factory(va_sleep_seconds=3)
    gw = start(gateway, slow, tmp_path)
    clients = [OrdinaryClients(gw.port, name) for name in NAMES]
    for c in clients:
        c.start()
    try:
        wait_issued(gw)
    finally:
        for c in clients:
            c.stopping.set()
            c.join(scaled(20))
    assert counters(gw)["acme_tls_alpn_validations"] >= len(NAMES)
    leaves = [leaf for c in clients for leaf in c.leaves]
    assert len(leaves) >= 10, "the ordinary clients hardly got through"
    assert not any(is_challenge_cert(leaf) for leaf in leaves)

    # After issuance no challenge is pending: acme-tls/1 alone gets no acme-tls/1, and no
    # challenge certificate, for the managed names and for others.
    for name in NAMES + ["other.acme.test", "a.test"]:
        alpn, leaf = offer_only_acme_tls(gw.port, name)
        assert alpn != "acme-tls/1", name
        assert leaf is None or not is_challenge_cert(leaf), name


# -- (d) restart with the state dir ------------------------------------------------------

def test_a_restart_serves_the_stored_certificate_without_a_new_order(gateway, pebble,
                                                                     tmp_path):
    first = start(gateway, pebble, tmp_path)
    issued = check_issued(first, pebble, tmp_path, "id-ecPublicKey")
    assert first.stop() == 0
    orders = pebble.orders_placed()
    assert orders == 1

    second = start(gateway, pebble, tmp_path)
    entry = wait_issued(second)
    roots = tmp_path / "pebble-roots.pem"
    for name in NAMES:
        assert serial(served_leaf(second.port, name, roots)) == issued
    assert to_epoch(entry["next_renewal"]) > time.time(), entry
    time.sleep(scaled(3))  # a new order would have come by now: the state was complete
    assert pebble.orders_placed() == orders
    c = counters(second)
    assert c["acme_orders"] == 0 and c["acme_renewals"] == 0, c


# -- (e) renewal, (f) outage: a stored certificate two thirds through its life ------------

class AgedPki(Pki):
    """A certificate for NAMES valid from 10 days ago to 20 days ahead (a third of its life
    gone), signed by a CA of our own, as the state dir of an earlier run would hold it."""

    def generate(self) -> "AgedPki":
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "req.cnf").write_text(_REQ_CONFIG)
        self._genkey(self.key("ca"), "ec")
        run_openssl("req", "-x509", "-new", "-config", str(self.root / "req.cnf"),
                    "-extensions", "v3_ca", "-key", str(self.key("ca")),
                    "-subj", "/CN=tlsgate e2e earlier ACME CA", "-days", "60", "-sha256",
                    "-out", str(self.ca))
        self._genkey(self.key("leaf"), "ec")
        cadir = self.root / "ca-dir"
        (cadir / "newcerts").mkdir(parents=True)
        (cadir / "index.txt").write_text("")
        (cadir / "serial").write_text(f"{secrets.randbits(63) | 1 << 62:016X}\n")
        (cadir / "ca.cnf").write_text(_CA_CONFIG.format(dir=cadir))
        (cadir / "leaf.ext").write_text(
            _LEAF_EXT.format(san=",".join(f"DNS:{n}" for n in NAMES)))
        run_openssl("req", "-new", "-config", str(self.root / "req.cnf"),
                    "-key", str(self.key("leaf")), "-subj", f"/CN={NAMES[0]}",
                    "-out", str(cadir / "leaf.csr"))
        now = datetime.datetime.now(datetime.timezone.utc)
        run_openssl("ca", "-batch", "-config", str(cadir / "ca.cnf"), "-cert", str(self.ca),
                    "-keyfile", str(self.key("ca")), "-in", str(cadir / "leaf.csr"),
                    "-out", str(self.crt("leaf")), "-notext",
                    "-extfile", str(cadir / "leaf.ext"),
                    "-startdate", (now - datetime.timedelta(days=10)).strftime("%Y%m%d%H%M%SZ"),
                    "-enddate", (now + datetime.timedelta(days=20)).strftime("%Y%m%d%H%M%SZ"))
        return self

    def seed(self, tmp: Path) -> str:
        """Writes the certificate into tmp's state dir; its serial."""
        chain, key = state_files(tmp)
        chain.parent.mkdir(parents=True, exist_ok=True)
        chain.write_text(self.crt("leaf").read_text() + self.ca.read_text())
        key.write_bytes(self.key("leaf").read_bytes())
        os.chmod(key, 0o600)
        return serial(self.crt("leaf"))


def renewed_serial(gw, roots_of, old: str) -> str:
    """Waits until both names are served a certificate other than `old`, chained to
    pebble's root (roots_of() fetches them); returns its serial."""
    def renewed():
        if counters(gw)["acme_renewals"] < 1:
            return None
        roots = roots_of()
        now = [serial(served_leaf(gw.port, name, roots)) for name in NAMES]
        return now[0] if now[0] == now[1] != old else None
    return wait_for("renewal", gw, renewed)


def test_renewal_replaces_the_served_certificate_without_a_reload(gateway, pebble, tmp_path):
    aged = AgedPki(tmp_path / "aged").generate()
    old = aged.seed(tmp_path)
    # 0.999: renew when less than 99.9% of the life is left. The stored certificate has
    # 2/3 left: renewed at once; pebble's (5 years) has more: renewed once only.
    gw = start(gateway, pebble, tmp_path, renew_remaining=0.999)
    new = renewed_serial(gw, lambda: pebble.fetch_roots(tmp_path / "pebble-roots.pem"), old)
    assert serial(state_files(tmp_path)[0]) == new
    time.sleep(scaled(3))  # room for a second renewal, that must not come
    c = counters(gw)
    assert c["acme_renewals"] == 1 and c["acme_orders"] == 1, c
    assert c["acme_orders_failed"] == 0 and pebble.orders_placed() == 1, c
    m = parse_metrics(request(gw, "GET", "/metrics")[2])
    assert metric(m, "tlsgate_reloads_total") == 0
    [entry] = acme_certs(gw)
    assert to_epoch(entry["next_renewal"]) > time.time(), entry
    assert to_epoch(entry["not_after"]) == not_after(
        state_files(tmp_path)[0].read_text()).timestamp(), entry


def test_a_ca_outage_keeps_the_stored_certificate_and_renews_when_it_is_back(
        gateway, pebble, tmp_path):
    aged = AgedPki(tmp_path / "aged").generate()
    old = aged.seed(tmp_path)
    pebble.stop()
    gw = start(gateway, pebble, tmp_path, renew_remaining=0.999)
    wait_for("acme_failures", gw, lambda: counters(gw)["acme_failures"] >= 1)
    for name in NAMES:
        assert serial(served_leaf(gw.port, name, aged.ca)) == old
    c = counters(gw)
    assert c["acme_renewals"] == 0 and c["acme_orders"] == 0, c
    # A retry, not a give-up: the client tries again while the CA is away.
    failures = wait_for("a second attempt", gw,
                        lambda: (lambda c: c if c["acme_failures"] >= 2 else None)(counters(gw)))
    assert serial(served_leaf(gw.port, NAMES[0], aged.ca)) == old

    pebble.start()  # a new pebble: a new CA, no account yet
    new = renewed_serial(gw, lambda: pebble.fetch_roots(tmp_path / "pebble-roots.pem"), old)
    assert new != old
    c = counters(gw)
    assert c["acme_renewals"] == 1 and c["acme_failures"] >= failures["acme_failures"], c


# -- (g) --check ---------------------------------------------------------------------------

def check(tlsgate_bin, pki, pebble: Pebble, tmp: Path, **kwargs):
    """`tlsgate --check` on an acme: config; (result, the line numbers of its keys)."""
    gw = Gateway(tlsgate_bin, tmp / "check", pki, listeners=[f"127.0.0.1:{pebble.tls_port}"],
                 extra_yaml=acme_yaml(pebble, tmp, **kwargs))
    gw.write_files()
    lines = {l.strip().split(":", 1)[0]: n
             for n, l in enumerate(gw.yaml_path.read_text().splitlines(), 1)}
    r = subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"], capture_output=True,
                       text=True, timeout=scaled(30))
    return r, lines


def test_check_names_the_line_of_a_bad_directory_url(tlsgate_bin, pki, pebble, tmp_path):
    for bad in ("http://127.0.0.1:14000/dir", "not a url"):
        r, lines = check(tlsgate_bin, pki, pebble, tmp_path, directory=bad)
        assert r.returncode != 0, (bad, r.stdout, r.stderr)
        assert f"tlsgate.yaml:{lines['directory']}:" in r.stderr, (bad, r.stderr)
        assert "configuration OK" not in r.stdout + r.stderr


def test_check_names_the_line_of_an_unusable_account_key(tlsgate_bin, pki, pebble, tmp_path):
    invalid = tmp_path / "invalid.key"
    invalid.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    invalid.chmod(0o600)
    unreadable = tmp_path / "a-directory.key"  # root reads any file, but not a directory
    unreadable.mkdir()
    for key in (invalid, unreadable):
        r, lines = check(tlsgate_bin, pki, pebble, tmp_path, account_key=key)
        assert r.returncode != 0, (key, r.stdout, r.stderr)
        assert f"tlsgate.yaml:{lines['account_key']}:" in r.stderr, (key, r.stderr)
        assert "configuration OK" not in r.stdout + r.stderr
    # The same configuration with a good key passes: the errors above are the key's.
    good = tmp_path / "good.key"
    run_openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", str(good))
    good.chmod(0o600)
    r, _ = check(tlsgate_bin, pki, pebble, tmp_path, account_key=good)
    assert r.returncode == 0, r.stderr
