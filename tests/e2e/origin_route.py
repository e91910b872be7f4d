"""Shared by the origin TLS tests (test_origin_tls.py, test_origin_client.py): the origin
PKI fixture, origins presenting a chosen leaf, gateways with a re-encrypting route, and one
downstream visit through tlsgate and what it saw."""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass

import pytest

from conftest import Gateway, scaled
from origin_pki import OriginPki
from tlsclient import BioTls, client_context
from upstreams import OriginServer, TcpServer

CA_FILE = "origin-ca.crt"
PAYLOAD = b"through tlsgate to the origin and back\n"

# The failures of S19 by kind: the leaf the origin presents, the counter of that reason and
# OpenSSL's text for it, which the warning line carries.
FAILURES = {
    "expired": ("expired", "ssl_origin_verify_expired", "certificate has expired"),
    "unknown_ca": ("unknown-ca", "ssl_origin_verify_unknown_ca",
                   "unable to get local issuer certificate"),
    "wrong_host": ("wrong-host", "ssl_origin_verify_name_mismatch", "hostname mismatch"),
}
REASON_COUNTERS = ("ssl_origin_verify_expired", "ssl_origin_verify_unknown_ca",
                   "ssl_origin_verify_name_mismatch", "ssl_origin_verify_other")
ALL_VERIFY_COUNTERS = ("ssl_origin_verify_failure",) + REASON_COUNTERS


# --------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def opki(tmp_path_factory) -> OriginPki:
    p = OriginPki(tmp_path_factory.mktemp("origin-pki")).generate()
    p.check_dates()
    return p


def origin(opki: OriginPki, leaf: str, **kwargs) -> OriginServer:
    """An origin presenting `leaf` (chain.crt / deep.crt with chain-leaf.key / deep-leaf.key)."""
    key = {"chain": "chain-leaf", "deep": "deep-leaf"}.get(leaf, leaf)
    return OriginServer(opki.crt(leaf), opki.key(key), **kwargs)


def client_yaml(settings: dict) -> str:
    """`client:` under ssl:, one key per line; a value of None leaves the key out."""
    lines = ["client:"]
    for k, v in settings.items():
        if v is None:
            continue
        lines.append(f"  {k}: {json.dumps(v) if v == '' else v}")
    return "\n".join(lines) + "\n"


def tls_route(address: str, sni: str | None = None) -> str:
    """A re-encrypting route in mapping form; `sni` None leaves the key out."""
    extra = "" if sni is None else f", sni: {json.dumps(sni)}"
    return f"{{upstream: {address}, tls: true{extra}}}"


def origin_gateway(gateway, opki: OriginPki, address: str, *, client: dict | None = None,
                   sni: str | None = None, files: dict[str, str] | None = None,
                   **kwargs) -> Gateway:
    """A gateway whose default route re-encrypts to `address`; ssl: client: is ENFORCED with
    the origin CA (written next to tlsgate.yaml) unless `client` says otherwise."""
    settings = {"verify_server_policy": "ENFORCED", "ca_certs": CA_FILE, **(client or {})}
    return gateway(route=tls_route(address, sni), extra_ssl_yaml=client_yaml(settings),
                   files={CA_FILE: opki.ca.read_text(), **(files or {})}, **kwargs)


def client_files(opki: OriginPki, cert: str = "client", key: str = "client") -> dict[str, str]:
    return {"client.crt": opki.crt(cert).read_text(), "client.key": opki.key(key).read_text()}


@dataclass
class Visit:
    """One downstream connection through tlsgate, as the client saw it."""
    hello: dict | None    # the origin's JSON line, None when it never arrived
    received: bytes       # every byte the client got, the line included
    echo: bytes           # what came back of PAYLOAD
    end: str | None       # "close_notify" / "eof" / "reset" once tlsgate ended it
    handshake_at: float   # time.monotonic() when the client's handshake with tlsgate ended
    ended_at: float | None
    client_port: int      # the client's own port, as tlsgate's logs name it


def visit(gw: Gateway, pki, sni: str | None, *, timeout: float = 10.0) -> Visit:
    """Handshake with tlsgate (verifying its certificate against the test CA), read until the
    origin's line arrives or tlsgate ends the connection; after a line, send PAYLOAD and
    read its echo. Sends nothing before the verdict, so a refusal is a plain close."""
    c = BioTls(gw.port, client_context(pki.ca, check_hostname=False), sni,
               timeout=scaled(timeout))
    port = c.sock.getsockname()[1]
    try:
        c.handshake()
        start = time.monotonic()
        got = b""
        while b"\n" not in got and c.end is None:
            try:
                got += c.exchange(b"", 1, timeout=scaled(timeout))
            except ConnectionResetError:
                c.end = "reset"
        ended = time.monotonic() if c.end else None
        if b"\n" not in got:
            return Visit(None, got, b"", c.end, start, ended, port)
        line, rest = got.split(b"\n", 1)
        echo = rest
        if len(echo) < len(PAYLOAD) and c.end is None:
            echo += c.exchange(PAYLOAD, len(PAYLOAD) - len(echo), timeout=scaled(timeout))
        return Visit(json.loads(line), got, echo, c.end, start, None, port)
    finally:
        c.close()


def assert_passed(v: Visit, sni_at_origin: str | None) -> None:
    assert v.hello is not None, f"nothing from the origin; the connection ended: {v.end}, " \
                                f"bytes {v.received!r}"
    assert v.hello["sni"] == sni_at_origin, v.hello
    assert v.echo == PAYLOAD, f"echo through tlsgate: {v.echo!r}"


def assert_refused(v: Visit, origin_server: TcpServer) -> None:
    """The downstream client got a clean close and nothing else; the origin never finished a
    handshake, so it relayed nothing."""
    assert v.hello is None and v.received == b"", \
        f"the origin's bytes reached the client: {v.received!r}"
    assert v.end == "close_notify", f"expected a close_notify, the connection ended: {v.end}"
    assert origin_server.wait_finished(1, scaled(5)), "tlsgate never reached the origin"
    assert not any(r.get("handshake") for r in origin_server.records), origin_server.records


def settled(gw: Gateway, **at_least: int) -> dict:
    """Stats once no connection is active and each named counter reached its value; every
    named counter and every origin verification counter must exist."""
    s = gw.wait_stats(lambda s: s.get("connections_active") == 0
                      and all(s.get(k, 0) >= v for k, v in at_least.items()))
    missing = [k for k in (*at_least, *ALL_VERIFY_COUNTERS,
                           "ssl_total_success_handshake_count_out") if k not in s]
    assert not missing, f"counters missing from the stats: {missing}; have {sorted(s)}"
    return s


def lines_with(gw: Gateway, *needles: str) -> list[str]:
    return [l for l in list(gw.lines) if all(n in l for n in needles)]


def wait_line(gw: Gateway, *needles: str, timeout: float = 5.0) -> list[str]:
    """The stderr lines holding every needle, waiting up to `timeout` for one to appear."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        found = lines_with(gw, *needles)
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)
