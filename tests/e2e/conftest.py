"""Fixtures for the end-to-end tests: the test PKI and the `Gateway` helper.

Run: /usr/bin/python3 -m pytest -q tests/e2e

The binary comes from $TLSGATE_BIN, else the first executable `tlsgate` under
/work/main/build/ then /work/main/build*/. Plugins (hook_test.so) come from
$TLSGATE_PLUGIN_DIR, else the binary's folder's plugins/. $TLSGATE_SANITIZE ("address",
"thread" or empty) multiplies every timeout by 3.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pki import Pki  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SANITIZE = os.environ.get("TLSGATE_SANITIZE", "").strip()
SCALE = 3.0 if SANITIZE else 1.0

READY_LINE = "tlsgate: ready"
LISTENING_RE = re.compile(r"^tlsgate: listening on (?P<host>\S+):(?P<port>\d+)\s*$")
STATS_PREFIX = "tlsgate: stats "


def scaled(seconds: float) -> float:
    return seconds * SCALE


def find_binary() -> str | None:
    env = os.environ.get("TLSGATE_BIN")
    if env:
        return env
    candidates = [REPO / "build" / "tlsgate"]
    candidates += sorted(Path(p) for p in glob.glob(str(REPO / "build*" / "tlsgate")))
    candidates += sorted(Path(p) for p in glob.glob(str(REPO / "build*" / "**" / "tlsgate"),
                                                  recursive=True))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    return None


def find_plugin_dir(binary: str | None = None) -> Path | None:
    """$TLSGATE_PLUGIN_DIR, else <folder of the tlsgate binary>/plugins."""
    env = os.environ.get("TLSGATE_PLUGIN_DIR")
    if env:
        return Path(env)
    binary = binary or find_binary()
    return Path(binary).resolve().parent / "plugins" if binary else None


def free_port() -> int:
    """A port that was free a moment ago (racy by nature: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------
# Session fixtures
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tlsgate_bin() -> str:
    path = find_binary()
    if path is None or not os.access(path, os.X_OK):
        pytest.fail(f"tlsgate binary not found (TLSGATE_BIN={os.environ.get('TLSGATE_BIN')!r}, "
                    f"no executable build*/tlsgate under {REPO})", pytrace=False)
    return path


@pytest.fixture(scope="session")
def plugin_dir(tlsgate_bin) -> Path:
    """The folder holding the plugins built with tlsgate (hook_test.so)."""
    d = find_plugin_dir(tlsgate_bin)
    if d is None or not (d / "hook_test.so").is_file():
        pytest.fail(f"hook_test.so not found in {d} (TLSGATE_PLUGIN_DIR="
                    f"{os.environ.get('TLSGATE_PLUGIN_DIR')!r})", pytrace=False)
    return d


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki")).generate()


# The standard certificate set: every leaf, the default last.
STANDARD_MULTICERT = [
    "ssl_cert_name=a.crt ssl_key_name=a.key",
    "ssl_cert_name=b.crt ssl_key_name=b.key",
    "ssl_cert_name=wild.crt ssl_key_name=wild.key",
    "ssl_cert_name=dual-rsa.crt,dual-ec.crt ssl_key_name=dual-rsa.key,dual-ec.key",
    "ssl_cert_name=chain.crt ssl_key_name=chain.key ssl_ca_name=inter.crt",
    "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key",
]


class GatewayStartError(Exception):
    pass


class Gateway:
    """One tlsgate process with its own tlsgate.yaml and ssl_multicert.config.

    Certificates are copied next to the config so that the multicert's relative names
    resolve against the config's folder.
    """

    def __init__(self, binary: str, workdir: Path, pki: Pki, *,
                 multicert: list[str] | str | None = None,
                 listeners: list[str | dict] | None = None,
                 route: str | None = "builtin:inspect",
                 alpn: list[str] | None = None,
                 protocols: list[str] | None = None,
                 handshake_timeout: int | None = None,
                 allow_client_renegotiation: bool | None = None,
                 threads: int | str = 2,
                 extra_ssl_yaml: str = "",
                 debug_tags: str | None = None,
                 plugins: list[dict] | None = None,
                 extra_yaml: str = "",
                 routes_yaml: str = "",
                 files: dict[str, str] | None = None,
                 wrapper: list[str] | None = None,
                 drain_timeout: int | None = 2):
        self.binary = binary
        self.dir = Path(workdir)
        self.pki = pki
        self.multicert = multicert if multicert is not None else STANDARD_MULTICERT
        self.listeners = listeners or ["127.0.0.1:0"]
        self.route = route
        self.alpn = alpn
        self.protocols = protocols
        self.handshake_timeout = handshake_timeout
        self.allow_client_renegotiation = allow_client_renegotiation
        self.threads = threads
        self.extra_ssl_yaml = extra_ssl_yaml
        self.debug_tags = debug_tags
        # [{"path": str|Path, "args": [str, ...]}, ...] -> the top-level `plugins:` list.
        self.plugins = plugins
        # Top-level yaml appended as is (sni:, tunnel:), extra keys under routes: (alpn:,
        # send_proxy_protocol:), files written next to the config (sni.yaml), and a command
        # prefix for the process (["ip", "netns", "exec", "gw"]).
        self.extra_yaml = extra_yaml
        self.routes_yaml = routes_yaml
        self.files = files or {}
        self.wrapper = wrapper or []
        # SIGTERM drains; a test that leaves a connection open must not wait tlsgate's
        # default 30 s at teardown. None: not written (the default applies).
        self.drain_timeout = drain_timeout
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.stats_lines: list[str] = []
        self.ports: list[int] = []
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self.returncode: int | None = None

    # -- files -------------------------------------------------------------------------
    @property
    def yaml_path(self) -> Path:
        return self.dir / "tlsgate.yaml"

    @property
    def multicert_path(self) -> Path:
        return self.dir / "ssl_multicert.config"

    def yaml_text(self) -> str:
        out = [f"threads: {self.threads}", "listeners:"]
        for l in self.listeners:
            if isinstance(l, str):
                out.append(f"  - listen: {l}")
                continue
            # {"listen": ..., "transparent": True, "proxy_protocol_from": [...]}: JSON
            # values are valid YAML flow values.
            first = True
            for k, v in l.items():
                out.append(f"  {'- ' if first else '  '}{k}: {json.dumps(v)}")
                first = False
        out += ["ssl:", "  multicert: ssl_multicert.config"]
        if self.handshake_timeout is not None:
            out.append(f"  handshake_timeout_in: {self.handshake_timeout}")
        if self.allow_client_renegotiation is not None:
            out.append("  allow_client_renegotiation: "
                       + ("true" if self.allow_client_renegotiation else "false"))
        if self.alpn is not None:
            out.append(f"  alpn: [{', '.join(self.alpn)}]")
        if self.protocols is not None:
            out.append(f"  protocols: [{', '.join(self.protocols)}]")
        if self.extra_ssl_yaml:
            out += ["  " + l for l in self.extra_ssl_yaml.strip("\n").splitlines()]
        out.append("routes:" if (self.route or self.routes_yaml) else "routes: {}")
        if self.route is not None:
            out.append(f"  default: {self.route}")
        if self.routes_yaml:
            out += ["  " + l for l in self.routes_yaml.strip("\n").splitlines()]
        if self.extra_yaml:
            out += self.extra_yaml.strip("\n").splitlines()
        if self.drain_timeout is not None:
            out.append(f"drain_timeout: {self.drain_timeout}")
        if self.plugins is not None:
            # JSON strings are valid YAML double-quoted scalars.
            out.append("plugins:" if self.plugins else "plugins: []")
            for p in self.plugins:
                out.append(f"  - path: {json.dumps(str(p['path']))}")
                if "args" in p:
                    out.append(f"    args: [{', '.join(json.dumps(str(a)) for a in p['args'])}]")
        return "\n".join(out) + "\n"

    def write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for f in self.pki.files:
            if f.name.startswith("ca."):
                continue  # the gateway has no business with the CA's key
            shutil.copy(f, self.dir / f.name)
        self.yaml_path.write_text(self.yaml_text())
        for name, text in self.files.items():
            (self.dir / name).write_text(text)
        mc = self.multicert if isinstance(self.multicert, str) else "\n".join(self.multicert)
        self.multicert_path.write_text(mc + "\n")

    # -- process -----------------------------------------------------------------------
    def command(self) -> list[str]:
        cmd = self.wrapper + [self.binary, "-c", str(self.yaml_path)]
        if self.debug_tags:
            cmd += ["--debug-tags", self.debug_tags]
        return cmd

    def start(self, timeout: float = 10.0) -> "Gateway":
        self.write_files()
        self.lines = []
        self.stats_lines = []
        self.ports = []
        self.returncode = None  # a restarted gateway is stopped again at teardown
        self.proc = subprocess.Popen(
            self.command(), cwd=self.dir, stdin=subprocess.DEVNULL,
            stdout=open(self.dir / "stdout.log", "wb"), stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + scaled(timeout)
        with self._cond:
            while READY_LINE not in self.lines:
                if self.proc.poll() is not None and not self._reader.is_alive():
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
            ready = READY_LINE in self.lines
        if not ready:
            exited = self.proc.poll()
            if exited is None:
                self._kill()
            raise GatewayStartError(
                f"tlsgate did not become ready (exit={exited}); stderr:\n{self.stderr_text()}")
        for line in self.lines:
            m = LISTENING_RE.match(line)
            if m:
                self.ports.append(int(m.group("port")))
        if len(self.ports) != len(self.listeners):
            raise GatewayStartError(
                f"expected {len(self.listeners)} 'listening on' lines, got {self.ports}:\n"
                f"{self.stderr_text()}")
        return self

    def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\r\n")
            with self._cond:
                self.lines.append(line)
                if line.startswith(STATS_PREFIX):
                    self.stats_lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def port(self) -> int:
        return self.ports[0]

    def stderr_text(self, last: int = 200) -> str:
        with self._cond:
            return "\n".join(self.lines[-last:])

    def debug_lines(self, tag: str) -> list[str]:
        with self._cond:
            return [l for l in self.lines if f"[{tag}]" in l]

    def wait_line(self, pattern: str, start: int = 0, timeout: float = 10.0) -> str | None:
        """The first stderr line from index `start` on that matches the regex `pattern`,
        waiting up to `timeout`; None if none came."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + scaled(timeout)
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                start = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return None
                self._cond.wait(min(left, 0.1))

    def reload(self, timeout: float = 30.0) -> str:
        """S16: SIGHUP, then the `reload ok (N ms)` or `reload failed: ...` line it gave."""
        assert self.proc is not None
        with self._cond:
            start = len(self.lines)
        self.proc.send_signal(signal.SIGHUP)
        line = self.wait_line(r"^tlsgate: (warning: )?reload (ok|failed)", start, timeout)
        assert line is not None, f"no reload line after SIGHUP; stderr:\n{self.stderr_text()}"
        return line

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- stats -------------------------------------------------------------------------
    def stats(self, timeout: float = 5.0) -> dict:
        """SIGUSR1, then the next `tlsgate: stats {json}` line, parsed."""
        assert self.proc is not None
        with self._cond:
            seen = len(self.stats_lines)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + scaled(timeout)
        with self._cond:
            while len(self.stats_lines) <= seen:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"no stats line after SIGUSR1 (alive={self.alive()}); stderr:\n"
                        f"{self.stderr_text()}")
                self._cond.wait(min(left, 0.1))
            line = self.stats_lines[seen]
        return json.loads(line[len(STATS_PREFIX):])

    def wait_stats(self, predicate, timeout: float = 5.0) -> dict:
        """Polls stats until predicate(stats) holds; returns the last stats either way.

        Counters may be updated a moment after the client sees the connection end."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            s = self.stats()
            if predicate(s) or time.monotonic() >= deadline:
                return s
            time.sleep(0.05)

    # -- stop --------------------------------------------------------------------------
    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code (kills after the timeout: -9)."""
        if self.proc is None:
            return 0
        if self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self._kill()
        if self._reader:
            self._reader.join(scaled(5))
        self.returncode = self.proc.returncode
        return self.returncode


class GatewayFactory:
    """gateway(**Gateway kwargs) starts a tlsgate and returns the Gateway."""

    def __init__(self, binary: str, tmp_path: Path, pki: Pki):
        self.binary = binary
        self.tmp_path = tmp_path
        self.pki = pki
        self.started: list[Gateway] = []
        self._n = 0

    def _new(self, **kwargs) -> Gateway:
        self._n += 1
        return Gateway(self.binary, self.tmp_path / f"gw{self._n}", self.pki, **kwargs)

    def __call__(self, **kwargs) -> Gateway:
        gw = self._new(**kwargs)
        self.started.append(gw)
        return gw.start()

    def with_free_port(self, make_kwargs, attempts: int = 5) -> tuple[Gateway, int]:
        """For configs that must name their own port (dest_ip=127.0.0.1:PORT): picks a free
        port, builds the kwargs with make_kwargs(port), retries when the start fails (the
        port may have been taken in between)."""
        last = None
        for _ in range(attempts):
            port = free_port()
            gw = self._new(**make_kwargs(port))
            try:
                gw.start()
            except GatewayStartError as e:
                gw.stop()
                last = e
                continue
            self.started.append(gw)
            return gw, port
        raise AssertionError(f"could not start tlsgate on a chosen port: {last}")

    def stop_all(self) -> list[str]:
        failures = []
        for gw in self.started:
            if gw.proc is None:
                continue
            rc = gw.stop()
            if rc != 0:
                failures.append(f"{gw.dir.name}: exit code {rc}; stderr:\n{gw.stderr_text()}")
        return failures


@pytest.fixture
def gateway(tmp_path, pki, tlsgate_bin):
    """A GatewayFactory. At teardown every gateway is stopped with SIGTERM and must exit 0
    (under ASan a leak makes it non-zero: a real failure)."""
    factory = GatewayFactory(tlsgate_bin, tmp_path, pki)
    yield factory
    failures = factory.stop_all()
    assert not failures, "tlsgate did not stop cleanly:\n" + "\n\n".join(failures)


@pytest.fixture
def inspect_gw(gateway) -> Gateway:
    """A gateway with the standard certificates and the builtin:inspect route."""
    return gateway()


# --------------------------------------------------------------------------------------
# A file whose every test was skipped must not look passed
# --------------------------------------------------------------------------------------

ALL_SKIPPED_EXIT = 77  # ctest's SKIP_RETURN_CODE for the e2e tests (tests/CMakeLists.txt)


def pytest_sessionfinish(session, exitstatus):
    """pytest exits 0 when every test was skipped; ctest would then report the file as
    passed. Exit 77 instead, which ctest shows as "Not Run (Skipped)"."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if exitstatus != 0 or reporter is None:
        return
    if reporter.stats.get("skipped") and not reporter.stats.get("passed"):
        session.exitstatus = ALL_SKIPPED_EXIT


# The hook_test plugin (plugins/hook_test): test_hooks.py, test_plugin_loading.py.
@pytest.fixture(scope="session")
def hook_test_so(plugin_dir) -> Path:
    return plugin_dir / "hook_test.so"


@pytest.fixture
def ht(hook_test_so):
    """ht(name, *points, mode=, ms=, tunnel=) -> one `plugins:` entry for hook_test.so."""
    def make(name: str, *points: str, mode: str | None = None, ms: int | None = None,
             tunnel: str | None = None, path: str | Path | None = None) -> dict:
        args = ["--name", name]
        for p in points:
            args += ["--hook", p]
        if mode is not None:
            args += ["--mode", mode]
        if ms is not None:
            args += ["--ms", str(ms)]
        if tunnel is not None:
            args += ["--tunnel", tunnel]
        return {"path": path if path is not None else hook_test_so, "args": args}
    return make
