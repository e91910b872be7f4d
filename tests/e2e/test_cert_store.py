"""The certificate store at scale (issue 19): every key format and file layout a user has,
reloads that read only what changed, and a parsed-certificate cache smaller than the store.

The certificates are made here with `openssl` (self-signed, one per name) in the layouts
users keep them in: the key in the certificate's file or its own, PKCS#8, SEC1 after an
"EC PARAMETERS" block (`openssl ecparam -genkey`), PKCS#1 RSA, a compressed EC point.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path

from conftest import scaled
from pki import fingerprint_of_pem, run_openssl
from tlsclient import s_client


def _key(path: Path, kind: str) -> Path:
    if kind == "ec-pkcs8":
        run_openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(path))
    elif kind == "ec-sec1":  # "EC PARAMETERS" then "EC PRIVATE KEY"
        run_openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", str(path))
    elif kind == "ec-compressed":
        run_openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout",
                    "-out", str(path) + ".tmp")
        run_openssl("ec", "-in", str(path) + ".tmp", "-conv_form", "compressed",
                    "-out", str(path))
    elif kind == "rsa-pkcs1":
        run_openssl("genrsa", "-traditional", "-out", str(path), "2048")
    else:
        raise ValueError(kind)
    return path


def _cert(folder: Path, name: str, key: Path) -> Path:
    """A self-signed certificate for `name` (CN and SAN) with `key`, a new serial each time."""
    out = folder / f"{name}.crt"
    run_openssl("req", "-x509", "-new", "-key", str(key), "-subj", f"/CN={name}",
                "-addext", f"subjectAltName=DNS:{name}", "-days", "2", "-sha256",
                "-set_serial", str(int.from_bytes(os.urandom(8), "big") >> 1),
                "-out", str(out))
    return out


def _fingerprint_of_file(path: Path) -> str:
    pem = path.read_text()
    first = pem[:pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    return fingerprint_of_pem(first + "\n")


def _served(port: int, name: str) -> list[str]:
    r = s_client(port, "-showcerts", sni=name, timeout=scaled(20))
    assert r.handshake_ok, r.out
    return r.certs_pem


def _store_line(gw, start: int) -> str:
    line = gw.wait_line(r"ssl_multicert\.config: \d+ entries", start, timeout=scaled(30))
    assert line, gw.stderr_text()
    return line


def test_every_key_layout_is_served_with_its_own_certificate(gateway, pki, tmp_path):
    """Key in the certificate's file (PKCS#8 and SEC1 after EC PARAMETERS), in its own file
    (PKCS#1 RSA), a certificate whose EC point is compressed (its key is checked by OpenSSL,
    not by comparing bytes), and a chain in the certificate's file: each name gets its own
    certificate, and the chain goes out with its leaf."""
    folder = tmp_path / "layouts"
    folder.mkdir()
    lines = []
    for name, kind, combined in (("pkcs8.test", "ec-pkcs8", True),
                                 ("sec1.test", "ec-sec1", True),
                                 ("pkcs1.test", "rsa-pkcs1", False),
                                 ("compressed.test", "ec-compressed", False)):
        key = _key(folder / f"{name}.key", kind)
        crt = _cert(folder, name, key)
        if combined:
            both = folder / f"{name}.pem"
            both.write_text(crt.read_text() + key.read_text())
            lines.append(f"ssl_cert_name={both}")
        else:
            lines.append(f"ssl_cert_name={crt} ssl_key_name={key}")
    compressed = run_openssl("x509", "-noout", "-text", "-in", str(folder / "compressed.test.crt"))
    assert re.search(r"pub:\s*\n\s*0[23]:", compressed), "the test needs a compressed point"
    chained = folder / "chain.pem"
    chained.write_text(pki.crt("chain").read_text() + pki.crt("inter").read_text()
                       + pki.key("chain").read_text())
    lines.append(f"ssl_cert_name={chained}")
    lines.append("dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key")
    gw = gateway(multicert=lines)
    for name in ("pkcs8.test", "sec1.test", "pkcs1.test", "compressed.test"):
        served = _served(gw.port, name)
        assert fingerprint_of_pem(served[0]) == _fingerprint_of_file(folder / f"{name}.crt"), name
    served = _served(gw.port, "chain.test")
    assert [fingerprint_of_pem(p) for p in served] == [pki.fingerprint("chain"),
                                                      pki.fingerprint("inter")]


def test_an_encrypted_key_is_refused_with_file_and_line(pki, tmp_path, tlsgate_bin):
    """A key that would need a passphrase is an error at load, naming the config line."""
    key = _key(tmp_path / "plain.key", "ec-pkcs8")
    crt = _cert(tmp_path, "enc.test", key)
    encrypted = tmp_path / "enc.key"
    run_openssl("pkcs8", "-topk8", "-in", str(key), "-passout", "pass:secret",
                "-out", str(encrypted))
    conf = tmp_path / "m.config"
    conf.write_text(f"dest_ip=* ssl_cert_name={pki.crt('default')} "
                    f"ssl_key_name={pki.key('default')}\n"
                    f"ssl_cert_name={crt} ssl_key_name={encrypted}\n")
    yaml = tmp_path / "t.yaml"
    yaml.write_text(f"listeners: [{{listen: 127.0.0.1:0}}]\nssl: {{multicert: {conf}}}\n"
                    "routes: {default: 'builtin:inspect'}\n")
    p = subprocess.run([tlsgate_bin, "--check", "-c", str(yaml)], capture_output=True,
                       text=True, timeout=scaled(30))
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"m.config:2: no usable private key in '{encrypted}' (missing or encrypted)" \
        in p.stderr, p.stderr


def test_a_reload_reads_only_the_files_that_changed(gateway, tmp_path):
    """Incremental reload: unchanged files are not read (ssl_cert_files_read does not move);
    a re-issued certificate (same key) re-reads its entry's two files (certificate and key),
    is served at once, the others stay; a file rewritten with the same bytes is read, found
    unchanged and not parsed again."""
    folder = tmp_path / "incr"
    folder.mkdir()
    names = [f"n{i}.incr.test" for i in range(4)]
    lines = []
    for name in names:
        key = _key(folder / f"{name}.key", "ec-pkcs8")
        lines.append(f"ssl_cert_name={_cert(folder, name, key)} ssl_key_name={key}")
    lines.append(f"dest_ip=* {lines[0]}")
    gw = gateway(multicert=lines)
    before = {n: fingerprint_of_pem(_served(gw.port, n)[0]) for n in names}
    read0 = gw.stats()["ssl_cert_files_read"]
    assert read0 == 8, read0  # 4 certificates and 4 keys; the default line shares n0's

    # Files older than the racy window (2 s), so that their stat() is trusted.
    old = time.time() - 60
    for f in folder.iterdir():
        os.utime(f, (old, old))
    start = len(gw.lines)
    assert "reload ok" in gw.reload()
    _store_line(gw, start)
    read1 = gw.stats()["ssl_cert_files_read"]
    assert read1 - read0 == 8, "the first reload reads the files the start read as racy"
    start = len(gw.lines)
    assert "reload ok" in gw.reload()
    assert "0 files read" in _store_line(gw, start)
    assert gw.stats()["ssl_cert_files_read"] == read1

    # Re-issue n2 with its key: only its certificate file changes.
    _cert(folder, names[2], folder / f"{names[2]}.key")
    os.utime(folder / f"{names[2]}.crt", (old + 10, old + 10))
    start = len(gw.lines)
    assert "reload ok" in gw.reload()
    line = _store_line(gw, start)
    assert "(1 read, 3 unchanged), 2 files read" in line, line
    assert gw.stats()["ssl_cert_files_read"] == read1 + 2
    after = {n: fingerprint_of_pem(_served(gw.port, n)[0]) for n in names}
    assert after[names[2]] != before[names[2]]
    assert after[names[2]] == _fingerprint_of_file(folder / f"{names[2]}.crt")
    assert {n: after[n] for n in names if n != names[2]} == \
        {n: before[n] for n in names if n != names[2]}

    # n3's certificate rewritten with the same bytes: read (its mtime moved), not parsed.
    crt3 = folder / f"{names[3]}.crt"
    crt3.write_bytes(crt3.read_bytes())
    os.utime(crt3, (old + 20, old + 20))
    start = len(gw.lines)
    assert "reload ok" in gw.reload()
    line = _store_line(gw, start)
    assert "(0 read, 4 unchanged), 2 files read" in line, line


def test_more_names_than_the_cache_holds_each_get_their_own(gateway, pki, tmp_path):
    """A store too large for a context per entry (over 64 entries): certificates are put on
    each connection from the parsed-certificate cache. With ssl.cert_cache_size smaller than
    the store every name still gets its certificate (parsed again after eviction: misses), a
    name asked twice in a row is a hit, and a dual RSA+ECDSA entry gives each client the
    certificate its signature algorithms allow."""
    folder = tmp_path / "many"
    folder.mkdir()
    names = [f"m{i}.many.test" for i in range(70)]
    lines = []
    for name in names:
        key = _key(folder / f"{name}.key", "ec-pkcs8")
        both = folder / f"{name}.pem"
        both.write_text(_cert(folder, name, key).read_text() + key.read_text())
        lines.append(f"ssl_cert_name={both}")
    lines.append("ssl_cert_name=dual-rsa.crt,dual-ec.crt ssl_key_name=dual-rsa.key,dual-ec.key")
    lines.append("dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key")
    gw = gateway(multicert=lines, extra_ssl_yaml="cert_cache_size: 4")
    for sigalgs, expected in (("ECDSA+SHA256", "dual-ec"), ("RSA-PSS+SHA256", "dual-rsa")):
        r = s_client(gw.port, "-sigalgs", sigalgs, sni="dual.test", timeout=scaled(20))
        assert r.handshake_ok, r.out
        assert fingerprint_of_pem(r.certs_pem[0]) == pki.fingerprint(expected), sigalgs
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    for _ in range(2):
        for name in names:
            with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as raw:
                with ctx.wrap_socket(raw, server_hostname=name) as s:
                    der = s.getpeercert(binary_form=True)
            expected = _fingerprint_of_file(folder / f"{name}.crt")
            assert hashlib.sha256(der).hexdigest() == expected, name
    s = gw.stats()
    assert s["ssl_cert_cache_misses"] >= 2 * len(names) - 4, s
    hits = s["ssl_cert_cache_hits"]
    for _ in range(2):  # the first parses it again (evicted), the second finds it
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as raw:
            with ctx.wrap_socket(raw, server_hostname=names[5]):
                pass
    assert gw.wait_stats(lambda t: t["ssl_cert_cache_hits"] > hits)["ssl_cert_cache_hits"] > hits
