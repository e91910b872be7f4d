"""Bytes a client chooses must not make tlsgate lie: a server name that is not UTF-8 keeps
the access log and inspect's answer valid JSON (D7); CR/LF in a server name cannot forge a
log line (D8); inspect answers requests whose lines end in a bare LF (D9) and counts the
bytes of its connections in the access log; a PROXY v1 header with a NUL is refused (D11)."""

from __future__ import annotations

import json
import socket
import time

from admin_client import admin_yaml
from conftest import scaled
from raw_sni import exchange
from test_proxy_protocol import inspect_behind_proxy, pp_listener, proxy_v1
from tlsclient import HOST, client_context, client_hello_bytes, tls_connect, wait_closed


REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def access_log_gateway(gateway, **kwargs):
    return gateway(extra_yaml=admin_yaml("access_log:\n  path: access.log\n"), **kwargs)


def wait_log_lines(gw, count: int, timeout: float = 10.0) -> list[dict]:
    """The access log's lines once there are `count`, each decoded as strict UTF-8 first:
    a line with a raw byte that is not UTF-8 is not valid JSON text (RFC 8259 8.1)."""
    path = gw.dir / "access.log"
    deadline = time.monotonic() + scaled(timeout)
    while True:
        raw = path.read_bytes() if path.exists() else b""
        lines = raw.splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            assert len(lines) == count, raw
            return [json.loads(line.decode("utf-8")) for line in lines]
        time.sleep(0.05)


def split_response(answer: bytes) -> tuple[bytes, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


def test_a_server_name_that_is_not_utf8_keeps_every_json_line_valid(gateway):
    """D7: the SNI \\xff\\xfe-bad + é (valid UTF-8) reaches inspect and the access log; both
    stay strict UTF-8 JSON, the bad bytes written as \\u00ff \\u00fe, the valid é as is."""
    gw = access_log_gateway(gateway)
    name = b"\xff\xfe-bad.\xc3\xa9.test"
    answer = exchange(gw.port, name, REQUEST, scaled(10))
    head, body = split_response(answer)
    assert head.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert b'"sni": "\\u00ff\\u00fe-bad.\xc3\xa9.test"' in body, body
    assert json.loads(body.decode("utf-8"))["sni"] == "\u00ff\u00fe-bad.\u00e9.test"
    [line] = wait_log_lines(gw, 1)
    assert line["sni"] == "\u00ff\u00fe-bad.\u00e9.test", line
    assert (gw.dir / "access.log").read_bytes().isascii() is False  # é is kept as UTF-8


def test_an_inspect_connection_logs_the_bytes_it_read_and_wrote(gateway, pki):
    """bytes_in and bytes_out of an inspect connection are its plaintext, as for a relay:
    the request read and the response written."""
    gw = access_log_gateway(gateway)
    with tls_connect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10)) as s:
        s.sendall(REQUEST)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    [line] = wait_log_lines(gw, 1)
    assert line["route"] == "inspect" and line["outcome"] == "done", line
    assert line["bytes_in"] == len(REQUEST), line
    assert line["bytes_out"] == len(answer), line


def test_crlf_in_a_server_name_cannot_forge_a_log_line(gateway, pki):
    """D8: the SNI "x\\r\\n[ssl.error] forged" in the debug lines (ssl, net) of a served
    connection, and in the warning of a refused one (sni.yaml `*` tunnel_route with $1: the
    capture is not a host name): every line that quotes it shows \\x0d\\x0a, and no line of
    stderr starts with the forged text."""
    sni = "x\r\n[ssl.error] forged"
    sni_yaml = 'sni:\n  - fqdn: "*"\n    tunnel_route: "$1.internal:8443"\n'
    refusing = gateway(extra_yaml="sni: sni.yaml\n", files={"sni.yaml": sni_yaml},
                       debug_tags="ssl,net")
    with socket.create_connection((HOST, refusing.port), timeout=scaled(10)) as s:
        s.sendall(client_hello_bytes(sni))
        wait_closed(s, scaled(10))
    warning = refusing.wait_line(r"is not a host name")
    assert warning is not None, refusing.stderr_text()
    assert "x\\x0d\\x0a[ssl.error] forged" in warning, warning

    serving = gateway(debug_tags="ssl,net")
    ctx = client_context(pki.ca, check_hostname=False)
    with tls_connect(serving.port, ctx, sni, timeout=scaled(10)) as s:
        s.sendall(REQUEST)
        while s.recv(65536):
            pass
    quoted = serving.wait_line(r"sni='x\\x0d\\x0a\[ssl\.error\] forged'")
    assert quoted is not None, serving.stderr_text()
    serving.stop()
    refusing.stop()
    for gw in (refusing, serving):
        assert not [l for l in gw.lines if l.startswith("[ssl.error] forged")], gw.stderr_text()
        assert not [l for l in gw.lines if "forged" in l and "\\x0d\\x0a" not in l], \
            gw.stderr_text()


def test_inspect_answers_a_request_whose_lines_end_in_a_bare_lf(gateway, pki):
    """D9: `GET / HTTP/1.0\\n\\n` gets its answer and the connection closes (HTTP/1.0);
    an HTTP/1.1 request with bare LFs keeps it open for the next."""
    gw = gateway()
    with tls_connect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10)) as s:
        s.sendall(b"GET / HTTP/1.0\n\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, body = split_response(answer)
    assert head.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert json.loads(body)["sni"] == "a.test"

    with tls_connect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10)) as s:
        s.sendall(b"GET / HTTP/1.1\nHost: a.test\n\nGET / HTTP/1.1\nConnection: close\n\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200 OK") == 2, answer


def test_a_proxy_v1_header_with_a_nul_is_refused(gateway, pki):
    """D11: `PROXY TCP4 1.1.1.1\\0 ...` is not client 1.1.1.1: closed without a TLS answer,
    counted as proxy_protocol_invalid; a well-formed header still works after it."""
    gw = gateway(listeners=[pp_listener(["127.0.0.1"])])
    header = b"PROXY TCP4 1.1.1.1\0 192.0.2.10 5555 443\r\n"
    with socket.create_connection((HOST, gw.port), timeout=scaled(10)) as s:
        try:
            s.sendall(header + client_hello_bytes("a.test"))
        except (BrokenPipeError, ConnectionResetError):
            pass
        how, _, got = wait_closed(s, scaled(10))
    assert how in ("eof", "reset"), how
    assert not got.startswith(b"\x16"), got[:32]
    s = gw.wait_stats(lambda s: s["proxy_protocol_invalid"] >= 1)
    assert s["proxy_protocol_invalid"] == 1 and s["proxy_protocol_accepted"] == 0, s
    j, _ = inspect_behind_proxy(gw.port, proxy_v1("1.2.3.4", 5555, "192.0.2.10", 443),
                                client_context(pki.ca), "a.test", one_segment=False)
    assert j["client"] == "1.2.3.4:5555"
