"""Debian's `pebble` ACME test CA and `pebble-challtestsrv` as its DNS, for the ACME tests.

Use: `from pebble import pebble, pebble_factory  # noqa: F401` in a test file; `pebble`
yields a started `Pebble` with the defaults, `pebble_factory(**kwargs)` starts others.
Works with pebble 2.4 (Debian 12) and 2.6 (Debian 13): only flags and config keys both
know are used, and challtestsrv's flags are read from its -h.

Validation is real: pebble's validation authority resolves every name through
pebble-challtestsrv (A: 127.0.0.1 by default, no AAAA: pebble dials the first address it
gets and asks AAAA first, so an answer of ::1 would send it where tlsgate does not listen),
then connects to `tls_port` (tls-alpn-01) or `http_port` (http-01): the ports the tests give
tlsgate's TLS listener and its http-01 listener. challtestsrv's own challenge servers are
switched off so that nothing but tlsgate can answer a challenge.

pebble's own HTTPS (ACME API and management interface) uses a CA and a `localhost` /
127.0.0.1 certificate made at test time (pki.py's helpers); `ca_bundle` verifies it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, scaled
from pki import _LEAF_EXT, _REQ_CONFIG, Pki, run_openssl

ORDER_LINE = "Added order "                 # wfe: `Added order "<id>" to the db`
ISSUED_LINE = "Issued certificate serial "  # ca: `Issued certificate serial <hex> for order`


class PebbleHttpsPki(Pki):
    """ca.crt (pebble-ca-bundle) and localhost.crt/.key for pebble's HTTPS listeners."""

    def generate(self) -> "PebbleHttpsPki":
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "req.cnf").write_text(_REQ_CONFIG)
        self._genkey(self.key("ca"), "ec")
        run_openssl("req", "-x509", "-new", "-config", str(self.root / "req.cnf"),
                    "-extensions", "v3_ca", "-key", str(self.key("ca")),
                    "-subj", "/CN=tlsgate e2e pebble HTTPS CA", "-days", "30", "-sha256",
                    "-out", str(self.ca))
        self._genkey(self.key("localhost"), "ec")
        self._sign("localhost", "/CN=localhost", "ca",
                   _LEAF_EXT.format(san="DNS:localhost,IP:127.0.0.1"))
        return self


def _help_flags(binary: str) -> set[str]:
    """The flags a Go binary lists in its -h output (it exits 2 after printing them)."""
    out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"^\s+-(\S+)", out.stdout + out.stderr, re.M))


def _wait_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + scaled(20)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited ({proc.returncode}):\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}:\n{log.read_text()}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Pebble:
    """pebble + pebble-challtestsrv on free loopback ports, in `workdir`.

    Attributes: directory_url, ca_bundle (verifies pebble's HTTPS), http_port, tls_port
    (where pebble validates: give them to tlsgate), management_url, dns_port,
    challtestsrv_url, log_path.
    """

    def __init__(self, workdir: Path, nonce_reject_percent: int | None = None,
                 va_sleep_seconds: int | None = None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.https = PebbleHttpsPki(self.dir / "https-pki").generate()
        self.ca_bundle = self.https.ca
        self.acme_port, self.management_port = free_port(), free_port()
        self.http_port, self.tls_port = free_port(), free_port()
        self.dns_port, self.challtestsrv_port = free_port(), free_port()
        self.directory_url = f"https://127.0.0.1:{self.acme_port}/dir"
        self.management_url = f"https://127.0.0.1:{self.management_port}"
        self.challtestsrv_url = f"http://127.0.0.1:{self.challtestsrv_port}"
        self.log_path = self.dir / "pebble.log"
        self.challtestsrv_log = self.dir / "challtestsrv.log"
        self.config_path = self.dir / "pebble-config.json"
        # pebble rejects 5% of good nonces as badNonce by default, and an ACME client must
        # retry those (RFC 8555 section 6.5): kept ON so that the tests exercise the retry.
        # A client that retries sees no flakiness from it; one that does not should fail.
        self.nonce_reject_percent = nonce_reject_percent
        # None: PEBBLE_VA_NOSLEEP. N: pebble waits 0..N-1 s (random) before each of its
        # validation connections, which keeps a challenge pending longer.
        self.va_sleep_seconds = va_sleep_seconds
        self.proc: subprocess.Popen | None = None
        self.challtestsrv: subprocess.Popen | None = None
        self._log_offset = 0  # where the current pebble process's output starts
        self._write_config()

    def _write_config(self) -> None:
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.https.crt("localhost")),
            "privateKey": str(self.https.key("localhost")),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")

    # -- processes -----------------------------------------------------------------------
    def start_dns(self) -> None:
        flags = _help_flags("pebble-challtestsrv")
        cmd = ["pebble-challtestsrv", "-management", f"127.0.0.1:{self.challtestsrv_port}",
               "-dns01", f"127.0.0.1:{self.dns_port}", "-defaultIPv4", "127.0.0.1",
               "-defaultIPv6", ""]
        # Every server but the DNS one off (newer versions add -doh): none may answer a
        # challenge in tlsgate's place or take a fixed port.
        for server in ("http01", "https01", "tlsalpn01", "doh"):
            if server in flags:
                cmd += [f"-{server}", ""]
        self.challtestsrv = subprocess.Popen(
            cmd, cwd=self.dir, stdin=subprocess.DEVNULL,
            stdout=open(self.challtestsrv_log, "ab"), stderr=subprocess.STDOUT)
        _wait_port(self.challtestsrv_port, self.challtestsrv, "pebble-challtestsrv",
                   self.challtestsrv_log)

    def start(self) -> "Pebble":
        """Starts pebble (again, on the same ports: a new pebble has a new CA and forgets
        every account and order) and waits until its directory answers."""
        assert self.proc is None or self.proc.poll() is not None, "pebble is running"
        if self.challtestsrv is None:
            self.start_dns()
        env = dict(os.environ)
        for name in ("PEBBLE_VA_ALWAYS_VALID", "PEBBLE_VA_NOSLEEP", "PEBBLE_VA_SLEEPTIME",
                     "PEBBLE_WFE_NONCEREJECT"):
            env.pop(name, None)  # ALWAYS_VALID above all: validation must reach tlsgate
        if self.va_sleep_seconds is None:
            env["PEBBLE_VA_NOSLEEP"] = "1"
        else:
            env["PEBBLE_VA_SLEEPTIME"] = str(self.va_sleep_seconds)
        if self.nonce_reject_percent is not None:
            env["PEBBLE_WFE_NONCEREJECT"] = str(self.nonce_reject_percent)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen(
            ["pebble", "-config", str(self.config_path),
             "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + scaled(30)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"pebble exited ({self.proc.returncode}):\n"
                                     f"{self.log_text()}")
            try:
                self.directory()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"pebble's directory did not answer:\n"
                                         f"{self.log_text()}")
                time.sleep(0.1)

    def stop(self) -> None:
        """Stops pebble only (the DNS stays): the ACME outage."""
        _stop(self.proc)

    def close(self) -> None:
        _stop(self.proc)
        _stop(self.challtestsrv)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- HTTPS to pebble -----------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def get(self, url: str) -> bytes:
        with urllib.request.urlopen(url, context=self.ssl_context(),
                                    timeout=scaled(10)) as r:
            return r.read()

    def directory(self) -> dict:
        return json.loads(self.get(self.directory_url))

    def fetch_roots(self, path: Path | None = None) -> Path:
        """pebble's issuing root and intermediate (/roots/0, /intermediates/0 of the
        management interface) into one PEM file, for -CAfile. A restarted pebble has new
        ones: fetch again after start()."""
        path = Path(path or self.dir / "pebble-roots.pem")
        pem = b"".join(self.get(f"{self.management_url}/{kind}/0")
                       for kind in ("roots", "intermediates"))
        path.write_bytes(pem)
        return path

    # -- DNS -----------------------------------------------------------------------------
    def _challtestsrv_post(self, endpoint: str, body: dict) -> None:
        req = urllib.request.Request(f"{self.challtestsrv_url}/{endpoint}",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=scaled(10)) as r:
            assert r.status == 200, (endpoint, r.status)

    def set_a(self, name: str, ip: str) -> None:
        """pebble resolves `name` to `ip` (instead of the default 127.0.0.1)."""
        self._challtestsrv_post("add-a", {"host": name, "addresses": [ip]})

    def clear_a(self, name: str) -> None:
        """`name` back to the default answer, 127.0.0.1."""
        self._challtestsrv_post("clear-a", {"host": name})

    # -- what pebble did -----------------------------------------------------------------
    def log_text(self, current_only: bool = False) -> str:
        if not self.log_path.exists():
            return ""
        data = self.log_path.read_bytes()
        return data[self._log_offset if current_only else 0:].decode(errors="replace")

    def _count(self, marker: str) -> int:
        return sum(1 for line in self.log_text().splitlines() if marker in line)

    def orders_placed(self) -> int:
        """New orders over every pebble process of this fixture (one log line each)."""
        return self._count(ORDER_LINE)

    def certificates_issued(self) -> int:
        return self._count(ISSUED_LINE)


@pytest.fixture
def pebble_factory(tmp_path):
    """pebble_factory(**Pebble kwargs) -> a started Pebble (nonce_reject_percent,
    va_sleep_seconds). Every one is stopped at teardown and its logs printed then: pytest
    shows a test's captured output only when it failed."""
    started: list[Pebble] = []

    def make(**kwargs) -> Pebble:
        server = Pebble(tmp_path / f"pebble{len(started) + 1}", **kwargs)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.close()
        print(f"--- pebble log ({server.log_path}) ---\n{server.log_text()}")
        print(f"--- pebble-challtestsrv log ---\n{server.challtestsrv_log.read_text()}")


@pytest.fixture
def pebble(pebble_factory) -> Pebble:
    """A started Pebble with the defaults (no VA sleep, 5% badNonce)."""
    return pebble_factory()
