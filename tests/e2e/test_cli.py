"""Command line: --check, --version, --debug-tags, signals (S4, S15, S21)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess

import pytest

from conftest import Gateway, scaled
from tlsclient import HOST, client_context, inspect, wait_closed


def _check(tlsgate_bin, gw: Gateway) -> subprocess.CompletedProcess:
    gw.write_files()
    return subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                          capture_output=True, text=True, timeout=scaled(30))


def _gw(tlsgate_bin, pki, tmp_path, **kw) -> Gateway:
    return Gateway(tlsgate_bin, tmp_path / "check", pki, **kw)


def test_check_valid_config(tlsgate_bin, pki, tmp_path):
    """S15: --check on a valid configuration (all certificate kinds) exits 0 with
    'configuration OK' and does not start serving."""
    p = _check(tlsgate_bin, _gw(tlsgate_bin, pki, tmp_path, threads="auto"))
    assert p.returncode == 0, p.stderr
    assert "configuration OK" in p.stdout + p.stderr
    assert "tlsgate: ready" not in p.stderr


def test_check_multicert_unknown_key(tlsgate_bin, pki, tmp_path):
    """S15: an unknown key on line 2 of ssl_multicert.config: non-zero, file:line named."""
    gw = _gw(tlsgate_bin, pki, tmp_path, multicert=[
        "ssl_cert_name=a.crt ssl_key_name=a.key",
        "ssl_cert_name=b.crt ssl_key_name=b.key frobnicate=1",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ])
    p = _check(tlsgate_bin, gw)
    assert p.returncode != 0, p.stdout + p.stderr
    assert "ssl_multicert.config:2:" in p.stderr, p.stderr
    assert "configuration OK" not in p.stdout + p.stderr


def test_check_missing_certificate_file(tlsgate_bin, pki, tmp_path):
    """S15: a certificate file that does not exist (line 3): non-zero, the message names
    the file and the line."""
    gw = _gw(tlsgate_bin, pki, tmp_path, multicert=[
        "ssl_cert_name=a.crt ssl_key_name=a.key",
        "# a comment line counts as a line",
        "ssl_cert_name=missing-cert.crt ssl_key_name=b.key",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ])
    p = _check(tlsgate_bin, gw)
    assert p.returncode != 0, p.stdout + p.stderr
    assert "ssl_multicert.config:3:" in p.stderr, p.stderr
    assert "missing-cert.crt" in p.stderr, p.stderr


def test_check_key_does_not_match_certificate(tlsgate_bin, pki, tmp_path):
    """S15: a key that is not the certificate's: non-zero, line named."""
    gw = _gw(tlsgate_bin, pki, tmp_path, multicert=[
        "ssl_cert_name=a.crt ssl_key_name=b.key",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ])
    p = _check(tlsgate_bin, gw)
    assert p.returncode != 0, p.stdout + p.stderr
    assert "ssl_multicert.config:1:" in p.stderr, p.stderr


def test_check_unknown_yaml_key(tlsgate_bin, pki, tmp_path):
    """Every yaml key is checked: an unknown key under ssl: is reported as tlsgate.yaml:N:
    with N its line."""
    gw = _gw(tlsgate_bin, pki, tmp_path, extra_ssl_yaml="no_such_option: 3")
    text = gw.yaml_text()
    line = 1 + text.splitlines().index("  no_such_option: 3")
    p = _check(tlsgate_bin, gw)
    assert p.returncode != 0, p.stdout + p.stderr
    assert f"tlsgate.yaml:{line}:" in p.stderr, (line, p.stderr)


def test_version(tlsgate_bin):
    """--version: 'tlsgate <version>' and the OpenSSL version it runs with."""
    p = subprocess.run([tlsgate_bin, "--version"], capture_output=True, text=True,
                       timeout=scaled(10))
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert re.search(r"^tlsgate \d+\.\d+\S*", out, re.M), out
    assert re.search(r"OpenSSL 3\.\d+", out), out


def test_debug_tags_ssl(gateway, pki):
    """S21: --debug-tags ssl: a handshake produces [ssl] lines; without the flag (next
    test) there are none."""
    gw = gateway(debug_tags="ssl,ssl.error")
    ctx = client_context(pki.ca)
    r = inspect(gw.port, ctx, "a.test")
    assert r.status == 200
    gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert gw.debug_lines("ssl"), gw.stderr_text()


def test_debug_error_line_names_peer(gateway, pki):
    """S4: a failed handshake gives an [ssl.error] debug line with the peer's address and
    port."""
    gw = gateway(debug_tags="ssl,ssl.error")
    with socket.create_connection((HOST, gw.port), timeout=10) as s:
        peer = "%s:%d" % s.getsockname()
        s.sendall(b"\x16\x03\x01\x00\x05hello")  # a handshake record that is not one
        how, _, _ = wait_closed(s, scaled(5))
        assert how != "timeout"
    gw.wait_stats(lambda s: s["connections_active"] == 0)
    lines = gw.debug_lines("ssl.error")
    assert any(peer in l for l in lines), (peer, gw.stderr_text())


def test_no_debug_lines_without_tags(inspect_gw, pki):
    """S21: without --debug-tags, a handshake and a failed one produce no debug lines."""
    ctx = client_context(pki.ca)
    assert inspect(inspect_gw.port, ctx, "a.test").status == 200
    with socket.create_connection((HOST, inspect_gw.port), timeout=10) as s:
        s.sendall(b"not tls\r\n\r\n")
        wait_closed(s, scaled(5))
    inspect_gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert not [l for l in inspect_gw.lines if re.search(r"\[ssl(\.\w+)?\]", l)], \
        inspect_gw.stderr_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(gateway, pki, sig):
    """SIGTERM and SIGINT stop tlsgate with exit code 0, also with a client connected."""
    gw = gateway()
    ctx = client_context(pki.ca)
    assert inspect(gw.port, ctx, "a.test").status == 200
    idle = socket.create_connection((HOST, gw.port), timeout=10)
    try:
        gw.proc.send_signal(sig)
        gw.proc.wait(scaled(10))
        assert gw.proc.returncode == 0, gw.stderr_text()
    finally:
        idle.close()


STAT_NAMES = (
    "ssl_total_handshake_time_us ssl_total_success_handshake_count_in "
    "ssl_handshake_attempts_in ssl_error_want_read ssl_error_want_write "
    "ssl_error_want_x509_lookup ssl_error_syscall ssl_error_ssl ssl_error_zero_return "
    "ssl_handshake_timeout ssl_handshake_eof ssl_no_certificate ssl_renegotiation_refused "
    "connections_accepted connections_active upstream_connect_failure "
    "relay_bytes_client_to_upstream relay_bytes_upstream_to_client inspect_requests"
).split()


def test_stats_line_has_every_counter(inspect_gw):
    """S20: SIGUSR1 writes exactly one `tlsgate: stats {json}` line holding every counter
    as a non-negative integer, all zero on a fresh gateway."""
    s = inspect_gw.stats()
    missing = [n for n in STAT_NAMES if n not in s]
    assert not missing, (missing, s)
    for n in STAT_NAMES:
        assert isinstance(s[n], int) and not isinstance(s[n], bool), (n, s[n])
        assert s[n] == 0, (n, s)
    s2 = inspect_gw.stats()
    assert len(inspect_gw.stats_lines) == 2 and s2 == s


def test_check_starts_no_thread_and_opens_no_socket(tlsgate_bin, pki, tmp_path):
    """--check builds every part of the configuration and starts nothing: with ticket keys
    shared through Redis (nothing listens there), a key log, and an upstream whose name does
    not resolve now, strace -f sees no socket() and no clone() and no key log file appears;
    the same configuration, started, looks the upstream up and says where it is written."""
    keylog = tmp_path / "check" / "keys.log"
    gw = _gw(tlsgate_bin, pki, tmp_path, route="upstream.tlsgate-check.invalid:8080",
             extra_ssl_yaml=("keylog_file: keys.log\n"
                             "server:\n  ticket_key:\n    redis: {address: 127.0.0.1:1}\n"))
    gw.write_files()
    trace = tmp_path / "strace.log"
    # LeakSanitizer cannot run under ptrace: off for this one run of a sanitizer build.
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    p = subprocess.run(["strace", "-f", "-qq", "-o", str(trace), "-e",
                        "trace=socket,clone,clone3,connect", tlsgate_bin, "-c",
                        str(gw.yaml_path), "--check"],
                       capture_output=True, text=True, timeout=scaled(60), env=env)
    assert p.returncode == 0, p.stderr
    assert "configuration OK" in p.stdout
    calls = [l for l in trace.read_text().splitlines() if l.strip()]
    assert calls == [], calls
    assert not keylog.exists()

    started = subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path)], capture_output=True,
                             text=True, timeout=scaled(60))
    assert started.returncode != 0
    line = gw.yaml_text().splitlines().index("  default: upstream.tlsgate-check.invalid:8080") + 1
    assert f"{gw.yaml_path}:{line}: cannot resolve 'upstream.tlsgate-check.invalid'" in \
        started.stderr, started.stderr
