"""`cmake --install`: the layout it makes, the man page, the systemd unit, and an installed
tlsgate that validates the installed example configuration once certificates are in place.

The build tree is the folder of $TLSGATE_BIN (the tests' binary); the prefix is a fresh
temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import scaled
from pki import run_openssl

LAYOUT = [
    "bin/tlsgate",
    "lib/tlsgate/plugins/hook_test.so",
    "lib/tlsgate/plugins/cert_loader.so",
    "lib/tlsgate/plugins/sni_policy_example.so",
    "lib/tlsgate/plugins/alpn_endpoint.so",
    "share/man/man8/tlsgate.8",
    "share/doc/tlsgate/examples/tlsgate.yaml",
    "share/doc/tlsgate/examples/ssl_multicert.config",
    "share/doc/tlsgate/examples/sni.yaml",
    "etc/tlsgate/tlsgate.yaml",
    "etc/tlsgate/ssl_multicert.config",
    "etc/tlsgate/sni.yaml",
    "lib/systemd/system/tlsgate.service",
]


@pytest.fixture(scope="module")
def prefix(tlsgate_bin, tmp_path_factory) -> Path:
    build = Path(tlsgate_bin).resolve().parent
    if not (build / "cmake_install.cmake").is_file():
        pytest.fail(f"{build} is not a CMake build tree (no cmake_install.cmake)")
    # The man page is a build product like the binary: make sure it is current.
    subprocess.run(["cmake", "--build", str(build), "--target", "tlsgate_man"],
                   capture_output=True, timeout=scaled(120))
    p = tmp_path_factory.mktemp("prefix")
    out = subprocess.run(["cmake", "--install", str(build), "--prefix", str(p)],
                         capture_output=True, text=True, timeout=scaled(120))
    assert out.returncode == 0, out.stdout + out.stderr
    return p


def test_layout(prefix):
    missing = [f for f in LAYOUT if not (prefix / f).is_file()]
    assert not missing, f"not installed: {missing}"
    assert os.access(prefix / "bin/tlsgate", os.X_OK)


def test_no_key_or_certificate_is_installed(prefix):
    for f in prefix.rglob("*"):
        if f.is_file() and f.suffix not in (".so",) and f.name != "tlsgate":
            text = f.read_text(errors="replace")
            assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text, f


def test_man_page_renders_with_its_sections(prefix):
    page = prefix / "share/man/man8/tlsgate.8"
    if shutil.which("man"):
        cmd = ["man", "-l", str(page)]
    else:
        cmd = ["groff", "-man", "-Tutf8", str(page)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(30),
                         env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": "0",
                              "PAGER": "cat"})
    assert out.returncode == 0, out.stderr
    # Bold and underline: by overstriking (groff 1.22, Debian 12) or as SGR escapes (1.23).
    text = re.sub(r"\x1b\[[0-9;]*m", "", re.sub(r".\x08", "", out.stdout))
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "SIGNALS", "FILES", "CONFIGURATION",
                    "EXIT STATUS", "EXAMPLES"):
        assert f"\n{section}\n" in text, f"section {section} missing:\n{text}"
    for needle in ("--check", "--debug-tags", "SIGHUP", "SIGTERM", "SIGUSR1", "SIGUSR2",
                   "drain_timeout", "wire_trace", "keylog_file"):
        assert needle in text, needle


def test_systemd_unit(prefix):
    unit = prefix / "lib/systemd/system/tlsgate.service"
    text = unit.read_text()
    binary = prefix / "bin/tlsgate"
    config = prefix / "etc/tlsgate/tlsgate.yaml"
    assert f"ExecStart={binary} -c {config}\n" in text
    assert f"ExecStartPre={binary} -c {config} --check\n" in text
    for line in ("ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM", "Restart=on-failure",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "LimitNOFILE=1048576"):
        assert line + "\n" in text, line
    stop = int(text.split("TimeoutStopSec=")[1].split()[0])
    assert stop > 30, "TimeoutStopSec must leave room for the 30 s default drain_timeout"
    assert "@" not in "".join(l for l in text.splitlines() if not l.startswith("#"))


def test_systemd_analyze_verify(prefix):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = prefix / "lib/systemd/system/tlsgate.service"
    # Documentation=man:tlsgate(8) is looked up with man: point it at the installed page.
    env = {**os.environ, "MANPATH": f"{prefix / 'share/man'}:"}
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                         text=True, timeout=scaled(60), env=env)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr


def self_signed(folder: Path, name: str, cn: str) -> None:
    run_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", str(folder / f"{name}.key"), "-out",
                str(folder / f"{name}.crt"), "-subj", f"/CN={cn}",
                "-addext", f"subjectAltName=DNS:{cn}", "-days", "2")


def test_installed_binary_checks_the_installed_example(prefix):
    binary = prefix / "bin/tlsgate"
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=scaled(10))
    assert version.returncode == 0 and version.stdout.startswith("tlsgate "), version
    etc = prefix / "etc/tlsgate"
    config = etc / "tlsgate.yaml"
    # Without the certificates the example names, --check says which file is missing.
    bad = subprocess.run([str(binary), "-c", str(config), "--check"], capture_output=True,
                         text=True, timeout=scaled(10))
    assert bad.returncode == 1 and "ssl_multicert.config:" in bad.stderr, bad
    self_signed(etc, "www.example.com", "www.example.com")
    self_signed(etc, "default", "default.example.com")
    try:
        ok = subprocess.run([str(binary), "-c", str(config), "--check"], capture_output=True,
                            text=True, timeout=scaled(10))
        assert ok.returncode == 0 and "configuration OK" in ok.stdout, ok
    finally:
        for f in etc.glob("*.key"):
            f.unlink()
