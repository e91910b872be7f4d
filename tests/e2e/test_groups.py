"""Key exchange groups: post-quantum X25519MLKEM768 by default where the library has it
(OpenSSL 3.5, Debian 13), left out and said so where it does not (OpenSSL 3.0, Debian 12);
which clients pay a HelloRetryRequest; what the access log, the inspect endpoint, the wire
trace and /metrics report; the same defaults towards origins; a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from admin_client import admin_yaml, parse_metrics, request, metric
from conftest import scaled
from test_access_log import wait_lines
from tlsclient import s_client

REQUEST = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
NO_PQ_LINE = "tlsgate: no post-quantum key exchange"


def library_has_mlkem() -> bool:
    """Whether the OpenSSL that openssl(1) and tlsgate link implements X25519MLKEM768."""
    out = subprocess.run(["openssl", "list", "-tls1_3", "-tls-groups"], capture_output=True,
                         text=True)
    if out.returncode != 0:  # OpenSSL 3.0's list has no -tls-groups
        return False
    return "X25519MLKEM768" in out.stdout


PQ = library_has_mlkem()


def inspect_with(port: int, *groups_args: str) -> dict:
    """The inspect answer to a request from s_client started with `groups_args`."""
    r = s_client(port, *groups_args, "-ign_eof", "-quiet", sni="a.test", stdin=REQUEST,
                 timeout=scaled(20))
    assert "HTTP/1.1 200" in r.out, r.out
    body = r.out[r.out.index("\r\n\r\n") + 4:]
    j, _ = json.JSONDecoder().raw_decode(body[body.index("{"):])
    return j


@pytest.fixture
def gw(gateway):
    return gateway(extra_yaml=admin_yaml("access_log:\n  path: access.log\n"),
                   extra_ssl_yaml="wire_trace: {percentage: 100}\n")


def hello_retries(gw) -> int:
    return gw.stats()["ssl_hello_retry_requests"]


def test_startup_says_whether_post_quantum_is_on(gw):
    """Without ML-KEM the default leaves it out and tlsgate says so once at startup; with it,
    nothing is said."""
    said = [l for l in gw.lines if l.startswith(NO_PQ_LINE)]
    if PQ:
        assert said == [], said
    else:
        assert len(said) == 1 and "X25519:P-256:P-384" in said[0], said


def test_post_quantum_client_gets_x25519mlkem768(gw):
    """An OpenSSL 3.5 s_client -groups X25519MLKEM768 negotiates it: inspect, access log and
    /metrics say so. On a library without ML-KEM the client cannot even offer it."""
    r = s_client(gw.port, "-groups", "X25519MLKEM768", sni="a.test", timeout=scaled(20))
    if not PQ:
        assert not r.handshake_ok, r.out
        return
    j = inspect_with(gw.port, "-groups", "X25519MLKEM768")
    assert j["group"] == "x25519mlkem768" and j["hello_retry"] is False, j
    lines = wait_lines(gw.dir / "access.log", 2)
    assert all(l["group"] == "x25519mlkem768" and l["hello_retry"] is False for l in lines)
    _, _, text = request(gw, "GET", "/metrics")
    assert metric(parse_metrics(text), "tlsgate_ssl_handshakes_by_group_total",
                  group="x25519mlkem768") == 2


def test_x25519_key_share_gets_no_hello_retry(gw):
    """A client that sends only an X25519 key share (and supports ML-KEM where the library
    has it) gets X25519 at once: no HelloRetryRequest in the answer, the trace or the count."""
    offer = "X25519:X25519MLKEM768" if PQ else "X25519:P-256"
    j = inspect_with(gw.port, "-groups", offer)
    assert j["group"] == "x25519" and j["hello_retry"] is False, j
    assert hello_retries(gw) == 0
    trace = gw.wait_line(r"wire_trace .* key exchange: ")
    assert trace is not None and trace.endswith("key exchange: x25519"), trace


def test_p256_key_share_is_asked_again_where_tuples_say_so(gw):
    """A client whose only key share is P-256 while it also supports X25519: with OpenSSL
    3.5's group tuples, X25519's tuple comes first and the client gets a HelloRetryRequest;
    OpenSSL 3.0 takes any key share it supports."""
    j = inspect_with(gw.port, "-groups", "P-256:X25519")
    if PQ:
        assert j["group"] == "x25519" and j["hello_retry"] is True, j
        assert hello_retries(gw) == 1
    else:
        assert j["group"] == "secp256r1" and j["hello_retry"] is False, j
        assert hello_retries(gw) == 0


def test_a_key_share_the_server_does_not_take_costs_a_hello_retry(gw):
    """P-521's share (not in the server's groups) from a client that supports P-256: one
    HelloRetryRequest, on every library, reported everywhere."""
    j = inspect_with(gw.port, "-groups", "P-521:P-256")
    assert j["group"] == "secp256r1" and j["hello_retry"] is True, j
    assert hello_retries(gw) == 1
    [line] = wait_lines(gw.dir / "access.log", 1)
    assert line["group"] == "secp256r1" and line["hello_retry"] is True, line
    trace = gw.wait_line(r"wire_trace .* key exchange: ")
    assert trace is not None and trace.endswith(
        "key exchange: secp256r1, after a HelloRetryRequest"), trace
    assert gw.wait_line(r"wire_trace .* -> HelloRetryRequest") is not None
    _, _, text = request(gw, "GET", "/metrics")
    samples = parse_metrics(text)
    assert metric(samples, "tlsgate_ssl_hello_retry_requests_total") == 1
    assert metric(samples, "tlsgate_ssl_handshakes_by_group_total", group="secp256r1") == 1


def test_origins_get_the_same_groups(gateway, pki):
    """Towards an origin tlsgate offers the same groups, with key shares for the first two:
    a second tlsgate as the origin reports, in its inspect answer, the group the first one
    negotiated with it, with no HelloRetryRequest."""
    origin = gateway()
    front = gateway(route=f"{{upstream: 127.0.0.1:{origin.port}, tls: true, sni: a.test}}",
                    extra_ssl_yaml="client: {ca_certs: ca.crt}\n",
                    files={"ca.crt": pki.ca.read_text()})
    j = inspect_with(front.port, "-groups", "X25519")  # the client's own leg: X25519
    assert j["group"] == ("x25519mlkem768" if PQ else "x25519"), j
    assert j["hello_retry"] is False, j


def test_unknown_group_is_a_config_error_with_its_line(gateway, pki, tlsgate_bin, tmp_path):
    """ssl.groups naming a group the library does not know: `file:line: ...` at --check."""
    gw = gateway()
    yaml = gw.yaml_path.read_text().replace(
        "  multicert: ssl_multicert.config\n",
        "  multicert: ssl_multicert.config\n  groups: X25519:NO-SUCH-GROUP\n")
    bad = gw.dir / "bad.yaml"
    bad.write_text(yaml)
    line = yaml.splitlines().index("  groups: X25519:NO-SUCH-GROUP") + 1
    out = subprocess.run([tlsgate_bin, "-c", str(bad), "--check"], capture_output=True,
                         text=True, timeout=scaled(30))
    assert out.returncode != 0
    assert f"{bad}:{line}: ssl.groups: unknown group 'NO-SUCH-GROUP'" in out.stderr, out.stderr
    if not PQ:
        bad.write_text(yaml.replace("X25519:NO-SUCH-GROUP", "X25519MLKEM768:X25519"))
        out = subprocess.run([tlsgate_bin, "-c", str(bad), "--check"], capture_output=True,
                             text=True, timeout=scaled(30))
        assert f"{bad}:{line}: ssl.groups: unknown group 'X25519MLKEM768'" in out.stderr, \
            out.stderr


CHROMIUM = shutil.which("chromium")


def test_a_real_browser_negotiates_post_quantum_where_the_library_has_it(gateway):
    """Headless Chromium (BoringSSL, offers X25519MLKEM768 and X25519 key shares) gets
    X25519MLKEM768 from tlsgate on OpenSSL 3.5 and X25519 on 3.0, with no HelloRetryRequest
    either way."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (scripts/install-deps.sh installs it)")
    gw = gateway()
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--ignore-certificate-errors",
             f"--host-resolver-rules=MAP a.test 127.0.0.1", "--dump-dom",
             f"https://a.test:{gw.port}/"],
            capture_output=True, text=True, timeout=scaled(120),
            env={**os.environ, "HOME": profile})
    m = re.search(r"<pre[^>]*>(\{.*?\})\s*</pre>", out.stdout, re.S)
    assert m, out.stdout + out.stderr[-2000:]
    j = json.loads(m.group(1))
    assert j["sni"] == "a.test"
    assert j["group"] == ("x25519mlkem768" if PQ else "x25519"), j
    assert j["hello_retry"] is False, j
