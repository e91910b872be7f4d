"""D4: files tlsgate reads are regular files of a bounded size. A FIFO, a device
(/dev/zero) or a huge (sparse) file named in the configuration fails `--check` and the start
at once with `path: not a regular file` / `path: larger than N bytes`; at a reload it fails
the reload, the old configuration keeps serving, /health says why, and SIGHUP and SIGTERM
still act. A reload that runs out of memory (a memory limit) fails the same way."""

from __future__ import annotations

import os
import re
import resource
import subprocess
from pathlib import Path

import pytest

from admin_client import admin_yaml, get_json
from conftest import SANITIZE, Gateway, scaled
from tlsclient import s_client

CONFIG_LIMIT = 64 << 20
CERT_LIMIT = 1 << 20


def check(tlsgate_bin, gw: Gateway) -> subprocess.CompletedProcess:
    """`tlsgate --check` on the gateway's files as they are now (not rewritten)."""
    return subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                          capture_output=True, text=True, timeout=scaled(60))


def make_fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def make_dev_zero(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")


def make_sparse(path: Path, size: int = 2 << 30) -> None:
    path.unlink(missing_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


# (what replaces the file, the message expected after "<path>: ")
BAD_CONFIG_FILES = [
    (make_fifo, "not a regular file"),
    (make_dev_zero, "not a regular file"),
    (make_sparse, f"larger than {CONFIG_LIMIT} bytes"),
]


def new_gateway(tlsgate_bin, pki, tmp_path, **kw) -> Gateway:
    gw = Gateway(tlsgate_bin, tmp_path / "gw", pki, **kw)
    gw.write_files()
    return gw


@pytest.mark.parametrize("make,problem", BAD_CONFIG_FILES, ids=["fifo", "dev-zero", "sparse"])
def test_check_refuses_bad_multicert(tlsgate_bin, pki, tmp_path, make, problem):
    """D4: ssl_multicert.config a FIFO, /dev/zero or a 2 GB sparse file: --check fails at
    once (no hang, no 16 GB of memory) and names the file and the problem."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path)
    make(gw.multicert_path)
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{gw.multicert_path}: {problem}" in p.stderr, p.stderr


@pytest.mark.parametrize("make,problem", BAD_CONFIG_FILES, ids=["fifo", "dev-zero", "sparse"])
def test_start_refuses_bad_yaml(tlsgate_bin, pki, tmp_path, make, problem):
    """D4: tlsgate.yaml itself a FIFO, /dev/zero or huge: the start fails at once."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path)
    make(gw.yaml_path)
    p = subprocess.run(gw.command(), capture_output=True, text=True, timeout=scaled(60))
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{gw.yaml_path}: {problem}" in p.stderr, p.stderr


@pytest.mark.parametrize("name,make,problem", [
    ("a.crt", make_fifo, "not a regular file"),
    ("a.key", make_dev_zero, "not a regular file"),
    ("a.key", make_fifo, "not a regular file"),
    ("inter.crt", make_sparse, f"larger than {16 << 20} bytes"),
    ("a.crt", lambda p: make_sparse(p, CERT_LIMIT + 1), f"larger than {CERT_LIMIT} bytes"),
], ids=["cert-fifo", "key-dev-zero", "key-fifo", "chain-sparse", "cert-just-too-big"])
def test_check_refuses_bad_certificate_files(tlsgate_bin, pki, tmp_path, name, make, problem):
    """D4: certificates, keys and chains are read by the bounded reader too (not by
    OpenSSL's file functions): the message names ssl_multicert.config:line and the file."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path, multicert=[
        "ssl_cert_name=a.crt ssl_key_name=a.key ssl_ca_name=inter.crt",
        "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
    ])
    make(gw.dir / name)
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{gw.multicert_path}:1: " in p.stderr, p.stderr
    assert f"{gw.dir / name}: {problem}" in p.stderr, p.stderr


def test_check_refuses_fifo_origin_client_key(tlsgate_bin, pki, tmp_path):
    """D4: the origin client certificate and key (ssl.client) go through the bounded reader:
    a FIFO key fails --check instead of hanging it."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path,
                     extra_ssl_yaml="client:\n  cert: b.crt\n  key: b.key\n")
    make_fifo(gw.dir / "b.key")
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{gw.dir / 'b.key'}: not a regular file" in p.stderr, p.stderr


def test_check_refuses_dev_zero_ticket_keys(tlsgate_bin, pki, tmp_path):
    """D4: ticket_key.filename is bounded too."""
    gw = new_gateway(tlsgate_bin, pki, tmp_path,
                     extra_ssl_yaml="server:\n  ticket_key:\n    filename: keys.bin\n")
    make_dev_zero(gw.dir / "keys.bin")
    p = check(tlsgate_bin, gw)
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"tlsgate\.yaml:\d+: ssl\.server\.ticket_key\.filename: not a regular file",
                     p.stderr), p.stderr


def serial_of(port: int, sni: str = "a.test") -> str:
    out = s_client(port, sni=sni)
    assert out.handshake_ok, out.out
    return out.certs_pem[0]


def assert_reload_failed_and_serving(gw, line: str, problem: str, before: str) -> None:
    assert re.match(r"^tlsgate: warning: reload failed: ", line), line
    assert problem in line, line
    health = get_json(gw, "/health")
    assert health["reload"]["last_ok"] is False, health
    assert problem in health["reload"]["last_error"], health
    assert serial_of(gw.port) == before  # the old configuration still serves
    assert gw.alive()


@pytest.mark.parametrize("target,make,problem", [
    ("multicert", make_fifo, "not a regular file"),
    ("multicert", make_dev_zero, "not a regular file"),
    ("multicert", make_sparse, f"larger than {CONFIG_LIMIT} bytes"),
    ("a.key", make_fifo, "not a regular file"),
    ("a.crt", make_dev_zero, "not a regular file"),
], ids=["multicert-fifo", "multicert-dev-zero", "multicert-sparse", "key-fifo", "cert-dev-zero"])
def test_bad_file_at_reload_keeps_serving(gateway, target, make, problem):
    """D4: a reload that meets a FIFO, /dev/zero or a huge file fails at once and keeps the
    old configuration; /health says so; the next SIGHUP (files fixed) works and clears
    last_error; SIGTERM still stops the gateway (exit 0, checked at teardown)."""
    gw = gateway(extra_yaml=admin_yaml())
    before = serial_of(gw.port)
    path = gw.multicert_path if target == "multicert" else gw.dir / target
    saved = path.read_bytes()
    make(path)
    assert_reload_failed_and_serving(gw, gw.reload(), f"{path}: {problem}", before)
    path.unlink()
    path.write_bytes(saved)
    assert re.match(r"^tlsgate: reload ok", gw.reload()), gw.stderr_text()
    health = get_json(gw, "/health")
    assert health["reload"]["last_ok"] is True, health
    assert health["reload"]["last_error"] is None, health  # not the old failure's
    assert serial_of(gw.port) == before


def vm_size(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


@pytest.mark.skipif(SANITIZE != "", reason="ASan's allocator aborts when memory runs out "
                    "instead of throwing std::bad_alloc, which is what this test is about")
def test_reload_out_of_memory_keeps_serving(gateway):
    """D4: under an address-space limit a reload of a big tlsgate.yaml (a 16 MB sequence,
    GBs as yaml-cpp nodes) runs out of memory: the reload fails ("out of memory"), the
    gateway keeps serving with the old configuration, and a later reload works."""
    gw = gateway(extra_yaml=admin_yaml())
    before = serial_of(gw.port)
    good = gw.yaml_path.read_text()
    big = good + "padding: [" + "1," * (8 << 20) + "1]\n"
    limit = vm_size(gw.proc.pid) + (256 << 20)
    # The soft limit only: it can be lifted again without CAP_SYS_RESOURCE.
    resource.prlimit(gw.proc.pid, resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    try:
        gw.yaml_path.write_text(big)
        line = gw.reload(timeout=120)
        assert_reload_failed_and_serving(gw, line, "out of memory", before)
        gw.yaml_path.write_text(good)
        assert re.match(r"^tlsgate: reload ok", gw.reload()), gw.stderr_text()
        assert serial_of(gw.port) == before
    finally:
        if gw.alive():
            resource.prlimit(gw.proc.pid, resource.RLIMIT_AS,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
