"""Session resumption: tickets with keys from a file or per process, key rotation and
renewal, per-certificate and per-name ticket settings (S11), and the TLS 1.2 session ID
cache. Clients are `openssl s_client -sess_out` / `-sess_in`; "Reused" in its output means
the server resumed the session."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest

from conftest import Gateway, scaled

VERSIONS = ["-tls1_2", "-tls1_3"]
REQUEST = b"GET / HTTP/1.0\r\n\r\n"


def s_client(port: int, name: str, *args: str) -> str:
    """One connection that sends a request and reads until the server closes, so that
    TLS 1.3 tickets (sent after the handshake) reach -sess_out."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name,
           "-ign_eof", *args]
    proc = subprocess.run(cmd, input=REQUEST, capture_output=True, timeout=scaled(30))
    out = proc.stdout.decode(errors="replace")
    assert "HTTP/1.1 200" in out, f"{cmd} failed:\n{out}\n{proc.stderr.decode(errors='replace')}"
    return out


def resumed(out: str | None) -> bool:
    if out is None:  # the first connection left no session to offer
        return False
    if re.search(r"^Reused, ", out, re.M):
        return True
    assert re.search(r"^New, ", out, re.M), out
    return False


def full_then_resume(port: int, name: str, version: str, tmp: Path, *extra: str,
                     resume_port: int | None = None) -> tuple[str, str | None]:
    """A full handshake saving its session, then one offering it (to `resume_port`).
    s_client saves nothing when the server gave neither a ticket nor a session ID: the
    second is then None."""
    sess = tmp / f"{name}{version}.{secrets.token_hex(4)}.pem"
    first = s_client(port, name, version, *extra, "-sess_out", str(sess))
    if not sess.exists():
        return first, None
    second = s_client(resume_port or port, name, version, *extra, "-sess_in", str(sess))
    return first, second


def tickets_sent(out: str) -> list[bytes]:
    """The tickets of the NewSessionTicket messages in `s_client -msg` output."""
    tickets = []
    lines = out.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"<<< TLS 1\.([23]), Handshake \[length [0-9a-f]+\], NewSessionTicket", line)
        if not m:
            continue
        data = bytearray()
        for hexline in lines[i + 1:]:
            if not re.match(r"^    [0-9a-f]{2}( [0-9a-f]{2})*\s*$", hexline):
                break
            data += bytes.fromhex(hexline)
        body = data[4:]  # after the handshake header
        if m.group(1) == "2":  # lifetime(4) length(2) ticket
            at = 4
        else:  # lifetime(4) age_add(4) nonce(1 + n) length(2) ticket
            at = 8 + 1 + body[8]
        length = int.from_bytes(body[at:at + 2], "big")
        tickets.append(bytes(body[at + 2:at + 2 + length]))
    return tickets


def server_yaml(key_file: str | None = None, cache: bool = False, extra: str = "") -> str:
    lines = ["server:"]
    if key_file:
        lines += ["  ticket_key:", f"    filename: {key_file}"]
    if cache:
        lines += ["  session:", "    cache: {enabled: true, size: 100}"]
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def key_dir(tmp_path) -> Path:
    d = tmp_path / "keys"
    d.mkdir()
    return d


def write_keys(path: Path, *keys: bytes) -> Path:
    path.write_bytes(b"".join(keys))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------- tickets


@pytest.mark.parametrize("version", VERSIONS)
def test_resumed_on_the_same_instance(gateway, tmp_path, version):
    gw = gateway(threads=2)
    first, second = full_then_resume(gw.port, "a.test", version, tmp_path)
    assert not resumed(first)
    assert resumed(second), second
    stats = gw.wait_stats(lambda s: s["ssl_ticket_verified"] == 1)
    assert stats["ssl_ticket_verified"] == 1
    assert stats["ssl_ticket_created"] >= 1
    assert stats["ssl_ticket_verified_old_key"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_resumed_on_a_second_instance_sharing_the_key_file(gateway, tmp_path, key_dir, version):
    keys = write_keys(key_dir / "ticket.key", secrets.token_bytes(48), secrets.token_bytes(48))
    gw1 = gateway(extra_ssl_yaml=server_yaml(str(keys)))
    gw2 = gateway(extra_ssl_yaml=server_yaml(str(keys)))
    first, second = full_then_resume(gw1.port, "b.test", version, tmp_path,
                                     resume_port=gw2.port)
    assert not resumed(first)
    assert resumed(second), second
    assert gw2.wait_stats(lambda s: s["ssl_ticket_verified"] == 1)["ssl_ticket_verified"] == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_not_resumed_when_the_keys_differ(gateway, tmp_path, key_dir, version):
    gw1 = gateway(extra_ssl_yaml=server_yaml(
        str(write_keys(key_dir / "one.key", secrets.token_bytes(48)))))
    gw2 = gateway(extra_ssl_yaml=server_yaml(
        str(write_keys(key_dir / "two.key", secrets.token_bytes(48)))))
    gw3 = gateway()  # random keys of its own
    sess = tmp_path / "s.pem"
    s_client(gw1.port, "a.test", version, "-sess_out", str(sess))
    for other in (gw2, gw3):
        assert not resumed(s_client(other.port, "a.test", version, "-sess_in", str(sess)))
        stats = other.wait_stats(lambda s: s["ssl_ticket_not_found"] == 1)
        assert stats["ssl_ticket_not_found"] == 1
        assert stats["ssl_ticket_verified"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_previous_key_resumes_after_rotation_and_the_ticket_is_renewed(
        gateway, tmp_path, key_dir, version):
    old, new = secrets.token_bytes(48), secrets.token_bytes(48)
    keys = write_keys(key_dir / "ticket.key", old)
    gw = gateway(extra_ssl_yaml=server_yaml(str(keys)))
    before = tmp_path / "before.pem"
    out = s_client(gw.port, "a.test", version, "-msg", "-sess_out", str(before))
    assert not resumed(out)
    assert tickets_sent(out) and all(t[:16] == old[:16] for t in tickets_sent(out))  # key name

    # Rotation: the new key first (it encrypts), the old one second (it still decrypts);
    # a reload (S16) re-reads the file.
    write_keys(keys, new, old)
    assert "reload ok" in gw.reload()

    out = s_client(gw.port, "a.test", version, "-msg", "-sess_in", str(before))
    assert resumed(out), out
    # Renewed: the client gets a ticket under the new key.
    assert tickets_sent(out) and all(t[:16] == new[:16] for t in tickets_sent(out)), out
    stats = gw.wait_stats(lambda s: s["ssl_ticket_verified_old_key"] == 1)
    assert stats["ssl_ticket_verified"] == 1
    assert stats["ssl_ticket_verified_old_key"] == 1

    # A ticket of the new key resumes without renewal.
    after = tmp_path / "after.pem"
    s_client(gw.port, "a.test", version, "-sess_out", str(after))
    assert resumed(s_client(gw.port, "a.test", version, "-sess_in", str(after)))
    stats = gw.wait_stats(lambda s: s["ssl_ticket_verified"] == 2)
    assert stats["ssl_ticket_verified"] == 2
    assert stats["ssl_ticket_verified_old_key"] == 1


def check(tlsgate_bin, gw: Gateway) -> subprocess.CompletedProcess:
    gw.write_files()
    return subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                          capture_output=True, text=True, timeout=scaled(30))


def test_a_key_file_of_the_wrong_size_is_refused_with_the_yaml_line(
        tlsgate_bin, pki, tmp_path, key_dir):
    bad = key_dir / "bad.key"
    bad.write_bytes(secrets.token_bytes(50))
    r = check(tlsgate_bin, Gateway(tlsgate_bin, tmp_path / "gw", pki,
                                   extra_ssl_yaml=server_yaml(str(bad))))
    assert r.returncode != 0
    # ssl: is line 4, multicert line 5, server: line 6, ticket_key 7, filename 8.
    assert re.search(r"tlsgate\.yaml:8: ssl\.server\.ticket_key\.filename: .*bad\.key: .*"
                     r"multiple of 48, got 50 bytes", r.stderr), r.stderr


# ---------------------------------------------------------------- per certificate, per name

MULTICERT_A_NO_TICKETS = [
    "ssl_cert_name=a.crt ssl_key_name=a.key ssl_ticket_enabled=0",
    "ssl_cert_name=b.crt ssl_key_name=b.key ssl_ticket_number=3",
    "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
]


@pytest.mark.parametrize("version", VERSIONS)
def test_ssl_ticket_enabled_0_on_one_certificate_disables_tickets_for_its_names_only(
        gateway, tmp_path, version):
    gw = gateway(multicert=MULTICERT_A_NO_TICKETS)
    for name in ("a.test", "alias-a.test"):
        first, second = full_then_resume(gw.port, name, version, tmp_path)
        assert not resumed(second), f"{name}: {second}"
    for name in ("www.b.test", "default.test"):
        first, second = full_then_resume(gw.port, name, version, tmp_path)
        assert resumed(second), f"{name}: {second}"
    # Nothing is even issued for a.test; b gets tickets.
    assert tickets_sent(s_client(gw.port, "a.test", version, "-msg")) == []
    assert tickets_sent(s_client(gw.port, "www.b.test", version, "-msg")) != []


def test_ssl_ticket_number_sets_the_tls13_tickets_per_full_handshake(gateway, tmp_path):
    gw = gateway(multicert=MULTICERT_A_NO_TICKETS)
    s_client(gw.port, "www.b.test", "-tls1_3")
    assert gw.wait_stats(lambda s: s["ssl_ticket_created"] == 3)["ssl_ticket_created"] == 3
    s_client(gw.port, "default.test", "-tls1_3")  # OpenSSL's default, 2
    assert gw.wait_stats(lambda s: s["ssl_ticket_created"] == 5)["ssl_ticket_created"] == 5


SNI_A_NO_TICKETS = """\
sni:
  - fqdn: a.test
    ssl_ticket_enabled: 0
  - fqdn: www.b.test
    ssl_ticket_enabled: 1
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_sni_yaml_ssl_ticket_enabled_0_disables_tickets_for_that_name_only(
        gateway, tmp_path, version):
    # a.test and alias-a.test share a certificate: the setting follows the name.
    gw = gateway(extra_yaml="sni: sni.yaml", files={"sni.yaml": SNI_A_NO_TICKETS})
    assert not resumed(full_then_resume(gw.port, "a.test", version, tmp_path)[1])
    assert resumed(full_then_resume(gw.port, "alias-a.test", version, tmp_path)[1])


@pytest.mark.parametrize("version", VERSIONS)
def test_sni_yaml_enables_tickets_for_a_name_its_certificate_disables(
        gateway, tmp_path, version):
    gw = gateway(multicert=MULTICERT_A_NO_TICKETS, extra_yaml="sni: sni.yaml",
                 files={"sni.yaml": "sni:\n  - fqdn: alias-a.test\n    ssl_ticket_enabled: 1\n"})
    assert resumed(full_then_resume(gw.port, "alias-a.test", version, tmp_path)[1])
    assert not resumed(full_then_resume(gw.port, "a.test", version, tmp_path)[1])


# ---------------------------------------------------------------- session ID cache


def test_session_id_resumption_needs_the_cache(gateway, tmp_path):
    off = gateway()
    first, second = full_then_resume(off.port, "a.test", "-tls1_2", tmp_path, "-no_ticket")
    assert not resumed(second), second
    assert off.stats()["ssl_session_cache_hits"] == 0

    on = gateway(extra_ssl_yaml=server_yaml(cache=True))
    first, second = full_then_resume(on.port, "a.test", "-tls1_2", tmp_path, "-no_ticket")
    assert not resumed(first)
    assert resumed(second), second
    stats = on.wait_stats(lambda s: s["ssl_session_cache_hits"] == 1)
    assert stats["ssl_session_cache_hits"] == 1
    assert stats["ssl_session_cache_misses"] == 0
    assert stats["ssl_ticket_verified"] == 0  # the cache, not a ticket

    # A session this instance never saw is a miss.
    other = gateway(extra_ssl_yaml=server_yaml(cache=True))
    sess = tmp_path / "elsewhere.pem"
    s_client(other.port, "a.test", "-tls1_2", "-no_ticket", "-sess_out", str(sess))
    assert not resumed(s_client(on.port, "a.test", "-tls1_2", "-no_ticket", "-sess_in", str(sess)))
    stats = on.wait_stats(lambda s: s["ssl_session_cache_misses"] == 1)
    assert stats["ssl_session_cache_misses"] == 1
    assert stats["ssl_session_cache_hits"] == 1
