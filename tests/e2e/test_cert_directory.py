"""ssl.cert_directory (README "Certificates on demand from a directory"): a name no
ssl_multicert.config entry has is looked up as <dir>/<name>.pem (key inside or in
<name>.key), else <dir>/*.<parent>.pem, by a loader thread, while its handshake waits; the
certificate is kept in an LRU, a name without a file is remembered as unknown for
negative_ttl and gets the default certificate, a reload keeps the cache and forgets the
unknown names.

What each handshake did is read from the counters (SIGUSR1): ssl_cert_directory_misses
(waited for the loader), _hits (served from the cache), _unknown (the fallback at once),
and the loader's _loads, _not_found, _load_errors, _evictions, _stale. Deadlines are
generous; nothing is timed."""

from __future__ import annotations

import hashlib
import secrets
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from admin_client import admin_yaml, get_json, parse_metrics, request
from conftest import scaled
from pki import run_openssl
from raw_sni import exchange
from tlsclient import client_context, tls_connect

DIR_COUNTERS = ("hits", "misses", "unknown", "timeouts", "queue_full", "loads", "not_found",
                "load_errors", "evictions", "stale")


def issue(pki, out: Path, stem: str, cn: str, sans: list[str], *, key_apart: bool = False) -> str:
    """An EC certificate for `sans` signed by the test CA, written as <out>/<stem>.pem (the
    key after the certificate, or in <stem>.key); returns its SHA-256 fingerprint."""
    key = out / f"{stem}.keytmp"
    run_openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", str(key))
    ext = out / f"{stem}.ext"
    ext.write_text("basicConstraints = critical,CA:FALSE\n"
                   "keyUsage = critical,digitalSignature\n"
                   "extendedKeyUsage = serverAuth\n"
                   "subjectAltName = " + ",".join(f"DNS:{n}" for n in sans) + "\n")
    csr = run_openssl("req", "-new", "-key", str(key), "-subj", f"/CN={cn}")
    cert = run_openssl("x509", "-req", "-CA", str(pki.ca), "-CAkey", str(pki.key("ca")),
                       "-set_serial", str(secrets.randbits(62) + 1), "-days", "30", "-sha256",
                       "-extfile", str(ext), input=csr.encode())
    ext.unlink()
    if key_apart:
        (out / f"{stem}.pem").write_text(cert)
        key.rename(out / f"{stem}.key")
    else:
        (out / f"{stem}.pem").write_text(cert + key.read_text())
        key.unlink()
    der = ssl.PEM_cert_to_DER_cert(cert)
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def certs(tmp_path) -> Path:
    """The directory, empty."""
    folder = tmp_path / "certs"
    folder.mkdir()
    return folder


def directory_yaml(path: Path, *, cache_size: int = 100, negative_ttl: int = 600) -> str:
    return "\n".join(["cert_directory:", f"  path: {path}", f"  cache_size: {cache_size}",
                      f"  negative_ttl: {negative_ttl}", "  timeout: 30"])


def start(gateway, certs: Path, **kw):
    extra = kw.pop("extra_yaml", "")
    return gateway(extra_ssl_yaml=directory_yaml(certs, **kw), extra_yaml=extra)


def served(gw, pki, name: str) -> str:
    """One verified handshake for `name` (the CA and the host name checked); returns the
    fingerprint of the certificate served."""
    ctx = client_context(pki.ca, check_hostname=True)
    with tls_connect(gw.port, ctx, name, timeout=scaled(60)) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def served_unverified(gw, name: str) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tls_connect(gw.port, ctx, name, timeout=scaled(60)) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def counts(gw) -> dict[str, int]:
    stats = gw.stats()
    return {c: stats[f"ssl_cert_directory_{c}"] for c in DIR_COUNTERS}


def expect(gw, **want: int) -> dict[str, int]:
    """The directory's counters: those named have these values."""
    got = counts(gw)
    assert {k: got[k] for k in want} == want, got
    return got


def test_a_name_with_a_file_is_loaded_once_then_served_from_the_cache(gateway, pki, certs):
    want = issue(pki, certs, "one.dir.test", "one.dir.test", ["one.dir.test"])
    gw = start(gateway, certs)
    assert served(gw, pki, "one.dir.test") == want
    expect(gw, misses=1, loads=1, hits=0, unknown=0, not_found=0)
    # The next handshake: from the cache, the file is not read again.
    assert served(gw, pki, "one.dir.test") == want
    expect(gw, misses=1, loads=1, hits=1)
    # The loader is a thread of its own, named for top -H.
    names = [p.read_text().strip() for p in Path(f"/proc/{gw.proc.pid}/task").glob("*/comm")]
    assert "cert-dir" in names, names


def test_a_key_in_its_own_file(gateway, pki, certs):
    want = issue(pki, certs, "apart.dir.test", "apart.dir.test", ["apart.dir.test"],
                 key_apart=True)
    gw = start(gateway, certs)
    assert served(gw, pki, "apart.dir.test") == want
    expect(gw, loads=1, load_errors=0)


def test_an_unknown_name_gets_the_default_and_is_not_looked_up_again(gateway, pki, certs):
    gw = start(gateway, certs, negative_ttl=600)
    default = pki.fingerprint("default")
    assert served_unverified(gw, "nobody.dir.test") == default
    expect(gw, misses=1, not_found=1, unknown=0)
    # Within negative_ttl: the default at once, no second look, even once the file is there.
    issue(pki, certs, "nobody.dir.test", "nobody.dir.test", ["nobody.dir.test"])
    assert served_unverified(gw, "nobody.dir.test") == default
    expect(gw, misses=1, not_found=1, unknown=1, loads=0)


def test_an_unknown_name_is_looked_up_again_after_the_negative_ttl(gateway, pki, certs):
    gw = start(gateway, certs, negative_ttl=1)
    assert served_unverified(gw, "later.dir.test") == pki.fingerprint("default")
    want = issue(pki, certs, "later.dir.test", "later.dir.test", ["later.dir.test"])
    deadline = time.monotonic() + scaled(60)
    got = None
    while time.monotonic() < deadline:
        time.sleep(1.1)  # past the one second the name is remembered
        got = served_unverified(gw, "later.dir.test")
        if got == want:
            break
    assert got == want, gw.stderr_text()
    assert served(gw, pki, "later.dir.test") == want
    assert counts(gw)["loads"] == 1


def test_a_name_that_is_no_host_name_never_reaches_the_file_system(gateway, pki, certs,
                                                                 tmp_path):
    # Files a look-up of those names could find, were they looked up.
    issue(pki, certs, "a..dir.test", "a.dir.test", ["a.dir.test"])
    issue(pki, tmp_path, "escaped.dir.test", "escaped.dir.test", ["escaped.dir.test"])
    gw = start(gateway, certs)
    request_bytes = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    bad = [b"a..dir.test", b"../escaped.dir.test", b"x/../../escaped.dir.test", b".dir.test",
           b"UPPER_case.dir.test", b"x" * 254]
    for name in bad:
        answer = exchange(gw.port, name, request_bytes, scaled(30))
        assert b'"subject": "CN=default.test"' in answer, (name, answer[:400])
    expect(gw, unknown=len(bad), misses=0, not_found=0, loads=0, load_errors=0)


def test_a_wildcard_file_serves_one_label_names(gateway, pki, certs):
    want = issue(pki, certs, "*.wild.dir.test", "*.wild.dir.test", ["*.wild.dir.test"])
    own = issue(pki, certs, "own.wild.dir.test", "own.wild.dir.test", ["own.wild.dir.test"])
    gw = start(gateway, certs)
    assert served(gw, pki, "x.wild.dir.test") == want
    assert served(gw, pki, "own.wild.dir.test") == own, "a file of its own wins"
    assert served_unverified(gw, "y.x.wild.dir.test") == pki.fingerprint("default")
    expect(gw, loads=2, not_found=1)


def test_a_certificate_that_does_not_cover_the_name_is_not_served(gateway, pki, certs):
    issue(pki, certs, "wrong.dir.test", "other.dir.test", ["other.dir.test"])
    gw = start(gateway, certs)
    for _ in range(2):
        assert served_unverified(gw, "wrong.dir.test") == pki.fingerprint("default")
    expect(gw, misses=1, load_errors=1, unknown=1, loads=0)
    warnings = [l for l in gw.lines if "wrong.dir.test" in l and "not valid for the name" in l]
    assert len(warnings) == 1, gw.stderr_text()  # once per name per negative_ttl
    assert "warning" in warnings[0] and "other.dir.test" in warnings[0], warnings


def test_the_cache_is_bounded_and_every_name_is_still_served(gateway, pki, certs):
    names = ["n1.dir.test", "n2.dir.test", "n3.dir.test"]
    want = {n: issue(pki, certs, n, n, [n]) for n in names}
    gw = start(gateway, certs, cache_size=2, extra_yaml=admin_yaml())
    for n in names:
        assert served(gw, pki, n) == want[n]
    expect(gw, loads=3, evictions=1)
    # n1 went first; it is loaded again, and n2 leaves in turn.
    assert served(gw, pki, "n1.dir.test") == want["n1.dir.test"]
    expect(gw, loads=4, evictions=2, misses=4, hits=0)
    status, _, body = request(gw, "GET", "/metrics")
    assert status == 200
    metrics = parse_metrics(body)
    assert metrics[("tlsgate_ssl_cert_directory_entries", frozenset())] == 2, body
    assert "# TYPE tlsgate_ssl_cert_directory_entries gauge" in body
    assert get_json(gw, "/stats")["counters"]["ssl_cert_directory_evictions"] == 2


def test_a_reload_keeps_the_cache_and_forgets_unknown_names(gateway, pki, certs):
    kept = issue(pki, certs, "kept.dir.test", "kept.dir.test", ["kept.dir.test"])
    gw = start(gateway, certs, negative_ttl=600)
    assert served(gw, pki, "kept.dir.test") == kept
    assert served_unverified(gw, "added.dir.test") == pki.fingerprint("default")
    added = issue(pki, certs, "added.dir.test", "added.dir.test", ["added.dir.test"])
    assert "reload ok" in gw.reload()
    assert served(gw, pki, "kept.dir.test") == kept
    expect(gw, hits=1, loads=1)  # the cache survived the reload
    assert served(gw, pki, "added.dir.test") == added
    expect(gw, loads=2, not_found=1)


def test_a_reload_drops_a_cached_certificate_whose_file_changed(gateway, pki, certs):
    old = issue(pki, certs, "renewed.dir.test", "renewed.dir.test", ["renewed.dir.test"])
    gw = start(gateway, certs)
    assert served(gw, pki, "renewed.dir.test") == old
    new = issue(pki, certs, "renewed.dir.test", "renewed.dir.test", ["renewed.dir.test"])
    assert new != old
    assert "reload ok" in gw.reload()
    stats = gw.wait_stats(lambda s: s["ssl_cert_directory_stale"] >= 1, timeout=60)
    assert stats["ssl_cert_directory_stale"] == 1, stats
    assert served(gw, pki, "renewed.dir.test") == new
    expect(gw, loads=2)


def test_a_reload_that_changes_the_settings_starts_a_new_cache(gateway, pki, certs):
    want = issue(pki, certs, "fresh.dir.test", "fresh.dir.test", ["fresh.dir.test"])
    gw = start(gateway, certs, cache_size=10)
    assert served(gw, pki, "fresh.dir.test") == want
    gw.yaml_path.write_text(gw.yaml_path.read_text().replace("cache_size: 10",
                                                             "cache_size: 20"))
    assert "reload ok" in gw.reload()
    assert served(gw, pki, "fresh.dir.test") == want
    expect(gw, loads=2, misses=2, hits=0)


def check(tlsgate_bin, gw) -> subprocess.CompletedProcess:
    gw.write_files()
    return subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                          capture_output=True, text=True, timeout=scaled(30))


def test_check_names_the_line_of_a_bad_path(gateway, tlsgate_bin, tmp_path):
    not_a_folder = tmp_path / "file.pem"
    not_a_folder.write_text("x")
    for path, why in [(tmp_path / "missing", "No such file or directory"),
                      (not_a_folder, "is not a directory")]:
        gw = gateway._new(extra_ssl_yaml=directory_yaml(path))
        p = check(tlsgate_bin, gw)
        assert p.returncode != 0, p.stdout + p.stderr
        lines = gw.yaml_text().splitlines()
        line = next(i for i, l in enumerate(lines, 1) if l.strip().startswith("path:"))
        assert f"tlsgate.yaml:{line}: ssl.cert_directory.path: '{path}'" in p.stderr, p.stderr
        assert why in p.stderr, p.stderr
    ok = gateway._new(extra_ssl_yaml=directory_yaml(tmp_path))
    p = check(tlsgate_bin, ok)
    assert p.returncode == 0 and "configuration OK" in p.stdout, p.stdout + p.stderr
