"""acme.on_demand against Debian's pebble (pebble.py): a name no certificate has is ordered
during its first handshake when the `ask` policy (a real HTTP server in this process)
answers 200; a refused name, or an ask policy that is down, orders nothing and gets the
default certificate or an alert (fallback), and is not asked again within the backoff.

Waits are generous (the handshake itself waits up to acme.on_demand.timeout); only "nothing
happened" is checked after the fact (no order, one ask)."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from pathlib import Path

from admin_client import admin_yaml, get_json
from conftest import free_port
from pebble import Pebble, pebble, pebble_factory  # noqa: F401  (fixtures)
from pki import run_openssl
from tlsclient import s_client

ALLOWED = "ok.ondemand.test"
REFUSED = "no.ondemand.test"


class AskServer:
    """GET /check?domain=<name>: 200 for the allowed names, 403 otherwise; every ask kept."""

    def __init__(self, allowed: set[str]):
        self.allowed = allowed
        self.asked: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                name = query.get("domain", [""])[0]
                outer.asked.append(name)
                self.send_response(200 if name in outer.allowed else 403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/check"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def on_demand_yaml(pebble: Pebble, tmp: Path, ask: str, fallback: str) -> str:
    return admin_yaml() + "\n".join([
        "acme:",
        f"  directory: {pebble.directory_url}",
        f"  ca_file: {pebble.ca_bundle}",
        f"  account_key: {tmp / 'account.key'}",
        f"  state_dir: {tmp / 'acme-state'}",
        "  challenges: [tls-alpn-01]",
        f"  on_demand: {{ask: \"{ask}\", timeout: 60, rate: 10, backoff: 600, "
        f"fallback: {fallback}}}",
    ]) + "\n"


def start(gateway, pebble: Pebble, tmp: Path, ask: str, fallback: str = "default"):
    return gateway(listeners=[f"127.0.0.1:{pebble.tls_port}"],
                   extra_yaml=on_demand_yaml(pebble, tmp, ask, fallback))


def counters(gw) -> dict:
    return get_json(gw, "/stats")["counters"]


def subject_names(pem: str) -> str:
    return run_openssl("x509", "-noout", "-subject", "-ext", "subjectAltName",
                       input=pem.encode())


def handshake(gw, name: str, *args: str):
    return s_client(gw.port, *args, sni=name, timeout=90)


def test_an_allowed_name_is_issued_during_its_first_handshake(gateway, pebble, tmp_path):
    ask = AskServer({ALLOWED})
    try:
        gw = start(gateway, pebble, tmp_path, ask.url)
        roots = pebble.fetch_roots(tmp_path / "pebble-roots.pem")
        r = handshake(gw, ALLOWED, "-verify_return_error", "-CAfile", str(roots),
                      "-verify_hostname", ALLOWED, "-showcerts")
        assert r.handshake_ok and "Verify return code: 0 (ok)" in r.out, \
            r.out + gw.stderr_text()
        assert f"DNS:{ALLOWED}" in subject_names(r.certs_pem[0])
        assert pebble.orders_placed() == 1
        # The next handshake is served from the store: no new ask, no new order.
        again = handshake(gw, ALLOWED, "-verify_return_error", "-CAfile", str(roots),
                          "-verify_hostname", ALLOWED)
        assert again.handshake_ok, again.out
        assert ask.asked == [ALLOWED] and pebble.orders_placed() == 1
        c = counters(gw)
        assert c["acme_on_demand_requests"] == 1 and c["acme_orders"] == 1, c
        assert c["acme_on_demand_refused"] == 0 and c["acme_on_demand_timeouts"] == 0, c
        assert (tmp_path / "acme-state" / "certificates" / f"{ALLOWED}.pem").exists()
    finally:
        ask.close()


def refused_twice(gw, ask_asked: list[str], pebble: Pebble, name: str, *args: str):
    """Two handshakes for a refused name: each gets the fallback, the policy is asked once
    (the second one is within the backoff), and nothing is ordered."""
    results = [handshake(gw, name, *args) for _ in range(2)]
    assert ask_asked.count(name) <= 1
    assert pebble.orders_placed() == 0
    c = counters(gw)
    assert c["acme_orders"] == 0 and c["acme_on_demand_refused"] == 1, c
    assert c["acme_on_demand_requests"] == 1, c  # the second handshake did not wait
    return results


def test_a_refused_name_gets_the_default_certificate_and_never_an_order(gateway, pebble,
                                                                         tmp_path):
    ask = AskServer({ALLOWED})
    try:
        gw = start(gateway, pebble, tmp_path, ask.url, fallback="default")
        for r in refused_twice(gw, ask.asked, pebble, REFUSED):
            assert r.handshake_ok, r.out
            assert "DNS:default.test" in subject_names(r.certs_pem[0]), r.out
        assert ask.asked == [REFUSED]
        assert gw.alive()
    finally:
        ask.close()


def test_a_refused_name_gets_an_alert_with_fallback_alert(gateway, pebble, tmp_path):
    ask = AskServer(set())
    try:
        gw = start(gateway, pebble, tmp_path, ask.url, fallback="alert")
        for r in refused_twice(gw, ask.asked, pebble, REFUSED):
            assert not r.handshake_ok, r.out
            assert "unrecognized name" in r.out or "alert number 112" in r.out, r.out
        assert ask.asked == [REFUSED]
        # A name the gateway has a certificate for is served as usual.
        ok = handshake(gw, "default.test")
        assert ok.handshake_ok, ok.out
    finally:
        ask.close()


def test_an_ask_policy_that_is_down_refuses(gateway, pebble, tmp_path):
    down = f"http://127.0.0.1:{free_port()}/check"  # nothing listens there
    gw = start(gateway, pebble, tmp_path, down, fallback="default")
    for r in refused_twice(gw, [], pebble, REFUSED):
        assert r.handshake_ok, r.out
        assert "DNS:default.test" in subject_names(r.certs_pem[0]), r.out
