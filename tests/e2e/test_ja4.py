"""JA4 fingerprints (README "JA4 fingerprints"): tlsgate computes FoxIO's JA4 of each
ClientHello and shows it in the access log (`ja4`), the builtin:inspect answer (`ja4`) and to
plugins (tlsgate_vconn_ja4()).

Each client — openssl s_client, curl, Python's ssl — first connects to a listener that
records the ClientHello it sends (ja4.HelloRecorder); the test computes that ClientHello's
JA4 with its own implementation of the specification (ja4.py), then connects the same client
with the same options to tlsgate and expects exactly that JA4 back. Twice to the recorder:
the same command line must send the same fingerprint, or the comparison would mean nothing.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import scaled
from hook_lines import wait_lines as wait_hook_lines
from ja4 import JA4_RE, HelloRecorder, HelloSpec, build_hello, handshake_message, ja4
from test_access_log import wait_lines as log_lines
from test_large_client_hello import terminate
from test_proxy_protocol import pp_listener, proxy_v2
from tlsclient import client_context, client_hello_bytes, inspect, reframe, s_client

LOG_YAML = "access_log:\n  path: access.log\n"
REQUEST = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"

# The example of the specification (JA4.md), in the client's order.
SPEC_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
                0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
SPEC_EXTENSIONS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005,
                   0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
SPEC_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
SPEC_JA4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"


def recorded_ja4(connect) -> str:
    """The JA4 of what connect(port) sends, recorded twice: it must not change."""
    with HelloRecorder() as recorder:
        connect(recorder.port)
        connect(recorder.port)
        deadline = time.monotonic() + scaled(10)
        while len(recorder.hellos) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not recorder.errors, recorder.errors
        hellos = recorder.hellos
    assert len(hellos) == 2, "the client sent no ClientHello"
    first, second = ja4(hellos[0]), ja4(hellos[1])
    assert first == second, "the same command line sent two fingerprints"
    assert re.fullmatch(JA4_RE, first), first
    return first


def inspect_json(output: str) -> dict:
    """The builtin:inspect answer's JSON within a client's output."""
    m = re.search(r'^\{"sni": .*\}$', output, re.M)
    assert m, output
    return json.loads(m.group(0))


def check_client(gateway, connect) -> str:
    """Records the JA4 of connect(port), then expects tlsgate to report that one in the
    inspect answer connect() returns (its output) and in the access log."""
    expected = recorded_ja4(connect)
    gw = gateway(extra_yaml=LOG_YAML)
    answer = inspect_json(connect(gw.port))
    [line] = log_lines(gw.dir / "access.log", 1)
    assert answer["ja4"] == expected, (answer, expected)
    assert line["ja4"] == expected, (line, expected)
    assert line["outcome"] == "done", line
    return expected


@pytest.mark.parametrize("options,sni", [
    ([], "a.test"),
    (["-tls1_2"], "a.test"),
    (["-alpn", "h2,http/1.1"], "a.test"),
    ([], None),
], ids=["default", "tls1_2", "alpn", "no_sni"])
def test_openssl_s_client(gateway, options, sni):
    def connect(port: int) -> str:
        return s_client(port, *options, "-ign_eof", "-quiet", sni=sni, stdin=REQUEST,
                        timeout=scaled(20)).out

    got = check_client(gateway, connect)
    assert got[3] == ("d" if sni else "i"), got
    assert got[1:3] == ("12" if "-tls1_2" in options else "13"), got
    assert got[8:10] == ("h2" if "-alpn" in options else "00"), got


@pytest.mark.parametrize("options", [["--http1.1"], ["--http1.1", "--tlsv1.2", "--tls-max", "1.2"]],
                         ids=["default", "tls1_2"])
def test_curl(gateway, pki, options):
    def connect(port: int) -> str:
        p = subprocess.run(["curl", "-sS", *options, "--max-time", str(int(scaled(10))),
                            "--cacert", str(pki.ca), "--resolve", f"a.test:{port}:127.0.0.1",
                            f"https://a.test:{port}/"],
                           capture_output=True, timeout=scaled(20))
        return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")

    got = check_client(gateway, connect)
    assert got[3] == "d" and got[8:10] == "h1", got


@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2], ids=["default", "tls1_2"])
def test_python_ssl(gateway, pki, max_version):
    def connect(port: int) -> str:
        ctx = client_context(pki.ca, alpn=["http/1.1"], max_version=max_version)
        try:
            return json.dumps(inspect(port, ctx, "a.test", timeout=scaled(10)).json)
        except (OSError, ssl.SSLError):
            return ""  # the recorder closes after the ClientHello

    got = check_client(gateway, connect)
    assert got[8:10] == "h1", got


@pytest.mark.parametrize("record_body,proxied", [(None, False), (7, True)],
                         ids=["one-record", "7-byte-records-after-proxy-header"])
def test_the_specifications_example_with_grease_through_tlsgate(gateway, record_body, proxied):
    """The example of JA4.md, sent as a ClientHello with GREASE values among its ciphers,
    extensions, versions and signature algorithms (as Chrome sends them), and extensions
    OpenSSL 3.0 does not know (0x001b, 0x4469): tlsgate reads every extension type from the
    bytes (OpenSSL's own list lacks the unknown ones) and gives the published fingerprint,
    also when the ClientHello comes in many records after a PROXY header. The handshake
    itself fails (the key share is no key), after the ClientHello was read: the access log
    line of the failure carries it."""
    spec = HelloSpec(ciphers=[0x5A5A] + SPEC_CIPHERS,
                     extensions=[0x2A2A] + SPEC_EXTENSIONS + [0xEAEA],
                     versions=[0x7A7A, 0x0304, 0x0303], sigalgs=SPEC_SIGALGS[:3] + [0x9A9A]
                     + SPEC_SIGALGS[3:])
    record = build_hello(spec)
    assert ja4(handshake_message(record)) == SPEC_JA4  # the tests' implementation agrees
    wire = record if record_body is None else reframe(record, record_body)
    if proxied:
        wire = proxy_v2("1.2.3.4", 5555, "192.0.2.10", 8443) + wire
    gw = gateway(extra_yaml=LOG_YAML,
                 listeners=[pp_listener(["127.0.0.1"])] if proxied else None)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as s:
        s.sendall(wire)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    [line] = log_lines(gw.dir / "access.log", 1)
    assert line["ja4"] == SPEC_JA4, line
    assert line["handshake_ms"] is None, line  # not a completed handshake


def test_a_client_hello_hook_reads_the_ja4(gateway, pki, ht):
    """tlsgate_vconn_ja4(): NULL at VCONN_START (nothing read yet), the fingerprint from
    CLIENT_HELLO on (hook_test prints it as ja4=)."""
    ctx = lambda: client_context(pki.ca, alpn=["http/1.1"])  # noqa: E731

    def connect(port: int) -> None:
        try:
            inspect(port, ctx(), "a.test", timeout=scaled(10))
        except (OSError, ssl.SSLError):
            pass

    expected = recorded_ja4(connect)
    gw = gateway(plugins=[ht("J", "vconn_start", "client_hello", "vconn_close")])
    assert inspect(gw.port, ctx(), "a.test", timeout=scaled(10)).json["ja4"] == expected
    lines = wait_hook_lines(gw, lambda ls: any(l.point == "vconn_close" for l in ls))
    by_point = {l.point: l.ja4 for l in lines}
    assert by_point == {"vconn_start": "-", "client_hello": expected, "vconn_close": expected}


@pytest.mark.parametrize("one_byte,body", [(True, 64), (False, 1)], ids=["bytes-64", "whole-1"])
def test_a_large_client_hello_in_small_records_after_a_proxy_header(gateway, pki, one_byte,
                                                                    body):
    """A 2 KB ClientHello in records of 64 bytes (or 1) trickled one byte per segment, after a
    PROXY header: the fingerprint is that of the ClientHello, read across its records, the
    header not taken for one."""
    gw = gateway(listeners=[pp_listener(["127.0.0.1"])], extra_yaml=LOG_YAML)
    hello, answer = terminate(gw.port, pki.ca, one_byte, body,
                              prefix=proxy_v2("1.2.3.4", 5555, "192.0.2.10", 8443))
    expected = ja4(handshake_message(hello))
    assert expected[8:10] == "xp", expected  # the padding ALPN names come first
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
    assert inspect_json(answer.decode(errors="replace"))["ja4"] == expected
    [line] = log_lines(gw.dir / "access.log", 1)
    assert line["ja4"] == expected and line["client"] == "1.2.3.4:5555", line


def test_a_handshake_a_client_hello_hook_ended_logs_its_ja4(gateway, ht):
    """A CLIENT_HELLO hook terminates the connection before any route is chosen: the
    ClientHello was read, and the access log line has its JA4."""
    hello = client_hello_bytes("a.test")
    gw = gateway(plugins=[ht("T", "client_hello", mode="terminate")], extra_yaml=LOG_YAML)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as s:
        s.sendall(hello)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    [line] = log_lines(gw.dir / "access.log", 1)
    assert line["outcome"] == "hook_terminated", line
    assert line["ja4"] == ja4(handshake_message(hello)), line
