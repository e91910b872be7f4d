"""ssl.keylog_file: the NSS key log of every session, with clients and with origins.

The proof is Wireshark's: tshark captures a TLS 1.3 exchange on the loopback (curl →
tlsgate → plaintext upstream), then decrypts it with the key log tlsgate wrote — and
cannot without it. Needs tshark and the right to capture (root here); without them the
tests skip with the reason.
"""

from __future__ import annotations

import os
import socket
import shutil
import signal
import stat
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Gateway, scaled
from tlsclient import client_context
from upstreams import HttpUpstream, OriginServer

TOKEN = "keylog-body-7f3a"
URI = "/decrypted/by/the/key/log"
SECRET_LABELS = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                 "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET")


class Capture:
    """tshark capturing `bpf` on the loopback into a pcapng, from __enter__ to __exit__."""

    def __init__(self, path: Path, bpf: str):
        self.path = path
        self.bpf = bpf
        self.proc: subprocess.Popen | None = None
        self.err: list[str] = []
        self._capturing = threading.Event()

    def _read(self) -> None:
        assert self.proc and self.proc.stderr
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            self.err.append(line)
            if "Capturing on" in line:
                self._capturing.set()

    def __enter__(self) -> "Capture":
        self.proc = subprocess.Popen(["tshark", "-i", "lo", "-f", self.bpf, "-w", str(self.path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()
        if not self._capturing.wait(scaled(20)):
            self.proc.kill()
            self.proc.wait()
            pytest.skip("tshark cannot capture on lo: " + "".join(self.err).strip())
        time.sleep(0.5)  # "Capturing on" comes just before the capture filter is live
        return self

    def __exit__(self, *exc) -> None:
        assert self.proc
        time.sleep(0.5)  # let the last packets reach the capture
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(scaled(20))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def tshark_fields(pcap: Path, display_filter: str, fields: list[str],
                  keylog: Path | None) -> list[str]:
    cmd = ["tshark", "-n", "-r", str(pcap), "-Y", display_filter, "-T", "fields"]
    if keylog is not None:
        cmd += ["-o", f"tls.keylog_file:{keylog}"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, timeout=scaled(60), text=True)
    assert out.returncode == 0, out.stderr
    return [l for l in out.stdout.splitlines() if l.strip()]


def as_text(field: str) -> str:
    """tshark 4.4 (Debian 13) prints byte fields such as http.file_data in hex, 4.0 (Debian
    12) as text: the text either way."""
    if re.fullmatch(r"(?:[0-9a-f]{2})+", field):
        return bytes.fromhex(field).decode(errors="replace")
    return field


@pytest.fixture(scope="module")
def need_tshark():
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")


def keylog_gateway(gateway, tmp_path: Path, **kwargs) -> tuple[Gateway, Path]:
    keys = tmp_path / "keys.log"
    return gateway(extra_ssl_yaml=f"keylog_file: {keys}\n" + kwargs.pop("ssl_yaml", ""),
                   **kwargs), keys


def test_keylog_decrypts_a_captured_tls13_exchange(need_tshark, gateway, pki, tmp_path):
    with HttpUpstream(TOKEN) as upstream:
        gw, keys = keylog_gateway(gateway, tmp_path, route=upstream.address)
        assert any("warning: ssl.keylog_file" in l and str(keys) in l for l in gw.lines), \
            gw.stderr_text()
        assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600
        pcap = tmp_path / "tls.pcapng"
        with Capture(pcap, f"tcp port {gw.port}"):
            out = subprocess.run(
                ["curl", "-sS", "--http1.1", "--tlsv1.3", "--cacert", str(pki.ca),
                 "--resolve", f"a.test:{gw.port}:127.0.0.1", f"https://a.test:{gw.port}{URI}"],
                capture_output=True, timeout=scaled(20), text=True)
            assert out.returncode == 0, out.stderr
            assert TOKEN in out.stdout
    lines = keys.read_text().splitlines()
    labels = {l.split(" ")[0] for l in lines}
    assert set(SECRET_LABELS) <= labels, lines
    assert all(len(l.split(" ")) == 3 for l in lines), lines

    # With the key log: the request and the response, in clear.
    uris = tshark_fields(pcap, "http.request", ["http.request.uri"], keys)
    assert uris == [URI], uris
    bodies = [as_text(b) for b in tshark_fields(pcap, "http.response", ["http.file_data"], keys)]
    assert len(bodies) == 1 and TOKEN in bodies[0], bodies
    # Without it: TLS records, but no HTTP at all.
    assert tshark_fields(pcap, "tls.record", ["frame.number"], None), "no TLS captured"
    assert tshark_fields(pcap, "http", ["frame.number"], None) == []


def test_keylog_covers_the_origin_session(need_tshark, gateway, pki, tmp_path):
    """The secrets of tlsgate's session with a TLS origin are in the same file: what the
    client sent, re-encrypted towards the origin, decrypts (tshark shows it as data)."""
    payload = b"to the origin and back: keylog\n"
    with OriginServer(pki.crt("a"), pki.key("a")) as origin:
        gw, keys = keylog_gateway(
            gateway, tmp_path, route=f"{{upstream: {origin.address}, tls: true, sni: a.test}}",
            ssl_yaml="client: {ca_certs: origin-ca.crt}\n",
            files={"origin-ca.crt": pki.ca.read_text()})
        pcap = tmp_path / "origin.pcapng"
        with Capture(pcap, f"tcp port {origin.port}"):
            ctx = client_context(pki.ca, check_hostname=False)
            with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as raw:
                with ctx.wrap_socket(raw, server_hostname="a.test") as tls:
                    got = b""
                    while not got.endswith(b"\n"):
                        chunk = tls.recv(4096)
                        assert chunk, f"the origin's line never arrived: {got!r}"
                        got += chunk
                    tls.sendall(payload)
                    echo = b""
                    while len(echo) < len(payload):
                        echo += tls.recv(4096)
            assert echo == payload
    assert tshark_fields(pcap, "tls.app_data", ["frame.number"], None), "no TLS to the origin"
    clear = b"".join(bytes.fromhex(h.replace(":", ""))
                     for h in tshark_fields(pcap, "data", ["data.data"], keys))
    assert payload in clear, clear
    assert tshark_fields(pcap, "data", ["data.data"], None) == []


def test_unopenable_keylog_file_is_a_config_error_with_its_line(pki, tlsgate_bin, tmp_path):
    gw = Gateway(tlsgate_bin, tmp_path / "gw", pki,
                 extra_ssl_yaml=f"keylog_file: {tmp_path}/no/such/dir/keys.log")
    gw.write_files()
    line = next(i for i, l in enumerate(gw.yaml_text().splitlines(), 1) if "keylog_file" in l)
    out = subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"], capture_output=True,
                         text=True, timeout=scaled(10))
    assert out.returncode == 1, out
    assert f"{gw.yaml_path}:{line}: ssl.keylog_file: cannot open '{tmp_path}/no/such/dir/" \
           "keys.log': No such file or directory" in out.stderr, out.stderr
