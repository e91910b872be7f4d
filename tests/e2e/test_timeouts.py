"""Every phase after the handshake has a bound (README "Timeouts"): a client that completes
TLS and then says nothing, or half a request, or trickles one, is closed and counted, on
builtin:inspect (inspect.request_timeout), on a plaintext relay and a relay to a TLS origin
(relay.inactivity_timeout); an upstream that never answers the connect is given up
(connect_timeout). Connections that keep working are not touched."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time

from conftest import scaled
from origin_route import opki, origin, origin_gateway  # noqa: F401 (fixture)
from origin_pki import ORIGIN_NAME
from tlsclient import BioTls, client_context, client_hello_bytes, http_get, tls_connect, \
    wait_closed
from upstreams import TcpServer, echo_handler

ACCESS_LOG = "access_log:\n  path: access.log\n"


def access_records(gw) -> list[dict]:
    path = gw.dir / "access.log"
    return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


def wait_tls_closed(s, timeout: float) -> tuple[str, float]:
    """Reads a TLS socket until tlsgate ends it; returns (how, seconds): how is "eof" (a
    close_notify or a TCP EOF), "reset" or "timeout"."""
    start = time.monotonic()
    while (left := timeout - (time.monotonic() - start)) > 0:
        s.settimeout(min(left, 0.5))
        try:
            if s.recv(65536) == b"":
                return "eof", time.monotonic() - start
        except (TimeoutError, socket.timeout):
            continue
        except ssl.SSLEOFError:
            return "eof", time.monotonic() - start
        except ConnectionResetError:
            return "reset", time.monotonic() - start
    return "timeout", time.monotonic() - start


def wait_record(gw, outcome: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        hits = [r for r in access_records(gw) if r.get("outcome") == outcome]
        if hits:
            return hits[0]
        time.sleep(0.05)
    raise AssertionError(f"no access log record with outcome {outcome}: {access_records(gw)}")


# --------------------------------------------------------------------------------------
# builtin:inspect
# --------------------------------------------------------------------------------------

def test_inspect_closes_a_client_that_sends_no_request(gateway, pki):
    """After the handshake a client that sends nothing is closed at inspect.request_timeout,
    counted (inspect_request_timeouts) and logged as inspect_timeout (before, it was kept
    forever)."""
    gw = gateway(extra_yaml="inspect:\n  request_timeout: 1\n" + ACCESS_LOG)
    with tls_connect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10)) as s:
        how, elapsed = wait_tls_closed(s, scaled(10))
    assert how in ("eof", "reset"), how
    assert 0.9 <= elapsed <= scaled(4), elapsed
    st = gw.wait_stats(lambda st: st["inspect_request_timeouts"] >= 1)
    assert st["inspect_request_timeouts"] == 1, st
    assert wait_record(gw, "inspect_timeout")["route"] == "inspect"


def test_inspect_request_clock_is_not_reset_by_a_trickle(gateway, pki):
    """Half a request, then one byte every 0.3 s (slowloris): the request clock runs from
    the handshake, not from the last byte, so the connection is closed at the timeout."""
    gw = gateway(extra_yaml="inspect:\n  request_timeout: 1\n")
    with tls_connect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < scaled(8):
            try:
                s.sendall(b"X")
            except OSError:
                closed = True
                break
            s.settimeout(0.3)
            try:
                if s.recv(1024) == b"":
                    closed = True
                    break
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                closed = True
                break
        elapsed = time.monotonic() - start
    assert closed and elapsed <= scaled(4), elapsed
    gw.wait_stats(lambda st: st["inspect_request_timeouts"] == 1)


def test_inspect_keeps_a_client_whose_requests_keep_coming(gateway, pki):
    """Each answered request starts the clock again: a keep-alive client asking every 0.4 s
    for 3 s (three timeouts' worth) is answered every time and never closed."""
    gw = gateway(extra_yaml="inspect:\n  request_timeout: 1\n")
    with tls_connect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10)) as s:
        start = time.monotonic()
        answers = 0
        while time.monotonic() - start < 3:
            status, _, _ = http_get(s, "a.test")
            assert status == 200
            answers += 1
            time.sleep(0.4)
    assert answers >= 5
    st = gw.stats()
    assert st["inspect_request_timeouts"] == 0, st


# --------------------------------------------------------------------------------------
# Relays
# --------------------------------------------------------------------------------------

def test_silent_plaintext_relay_is_closed_and_a_talking_one_is_kept(gateway, pki):
    """relay.inactivity_timeout: 1 closes a relay on which neither side speaks within two
    periods (counted: relay_inactivity_timeouts; access log: relay_idle_timeout); a relay
    whose client speaks every 0.3 s stays open."""
    with TcpServer(echo_handler) as up:
        gw = gateway(route=up.address, extra_yaml="relay:\n  inactivity_timeout: 1\n" + ACCESS_LOG)
        ctx = client_context(pki.ca)
        with tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as busy, \
                tls_connect(gw.port, ctx, "a.test", timeout=scaled(10)) as idle:
            stop = threading.Event()
            errors: list[Exception] = []

            def chatter() -> None:
                try:
                    while not stop.wait(0.3):
                        busy.sendall(b"x")
                        assert busy.recv(16) == b"x"
                except (OSError, AssertionError) as e:
                    errors.append(e)

            talker = threading.Thread(target=chatter)
            talker.start()
            try:
                how, elapsed = wait_tls_closed(idle, scaled(6))
                time.sleep(1.5)  # another period or more for the busy one
            finally:
                stop.set()
                talker.join()
        assert how in ("eof", "reset"), how
        assert 0.9 <= elapsed <= scaled(3.5), elapsed
        assert not errors, errors
    st = gw.wait_stats(lambda st: st["relay_inactivity_timeouts"] >= 1)
    assert st["relay_inactivity_timeouts"] == 1, st
    wait_record(gw, "relay_idle_timeout")


def test_silent_origin_relay_is_closed(gateway, pki, opki):
    """The same bound on a relay to a TLS origin: after the origin's greeting nobody speaks,
    and the connection is closed at relay.inactivity_timeout."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address,
                            extra_yaml="relay:\n  inactivity_timeout: 1\n")
        c = BioTls(gw.port, client_context(pki.ca, check_hostname=False), ORIGIN_NAME,
                   timeout=scaled(10))
        try:
            c.handshake()
            got = c.exchange(b"", 1, timeout=scaled(10))
            while b"\n" not in got and c.end is None:
                got += c.exchange(b"", 1, timeout=scaled(10))
            assert b"\n" in got, (got, c.end, gw.stderr_text())
            start = time.monotonic()
            while c.end is None and time.monotonic() - start < scaled(6):
                c.exchange(b"", 1, timeout=scaled(6))
            elapsed = time.monotonic() - start
        finally:
            c.close()
    assert c.end is not None
    assert 0.9 <= elapsed <= scaled(3.5), elapsed
    gw.wait_stats(lambda st: st["relay_inactivity_timeouts"] == 1)


# --------------------------------------------------------------------------------------
# Connecting
# --------------------------------------------------------------------------------------

@contextlib.contextmanager
def unanswered_address():
    """A loopback host:port whose SYNs go unanswered: a listener with a full accept queue
    (backlog 0, never accepting) drops new SYNs, so a connect to it hangs."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        fillers = []
        try:
            for _ in range(8):
                f = socket.socket()
                fillers.append(f)
                f.settimeout(0.5)
                try:
                    f.connect(lsock.getsockname())
                except OSError:
                    break
            host, port = lsock.getsockname()
            yield f"{host}:{port}"
        finally:
            for f in fillers:
                f.close()


def test_upstream_that_never_answers_the_connect_is_given_up(gateway, pki):
    """connect_timeout: 1 ends a connection whose upstream's SYN goes unanswered: the client
    gets a clean close, upstream_connect_timeouts counts it, the access log says
    connect_timeout (before, only the kernel's SYN retries, minutes, bounded it)."""
    with unanswered_address() as address:
        gw = gateway(route=address, extra_yaml="connect_timeout: 1\n" + ACCESS_LOG)
        with tls_connect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10)) as s:
            how, elapsed = wait_tls_closed(s, scaled(10))
    assert how in ("eof", "reset"), how
    assert 0.9 <= elapsed <= scaled(4), elapsed
    st = gw.wait_stats(lambda st: st["upstream_connect_timeouts"] >= 1)
    assert st["upstream_connect_timeouts"] == 1, st
    wait_record(gw, "connect_timeout")


def test_tunnel_destination_that_never_answers_is_given_up(gateway):
    """A blind tunnel's connect has the same bound."""
    with unanswered_address() as address:
        gw = gateway(extra_yaml="sni: sni.yaml\nconnect_timeout: 1\n",
                     files={"sni.yaml": f"sni:\n  - fqdn: tunnel.test\n    tunnel_route: {address}\n"})
        with socket.create_connection(("127.0.0.1", gw.port), timeout=scaled(10)) as c:
            c.sendall(client_hello_bytes("tunnel.test"))
            how, elapsed, _ = wait_closed(c, scaled(10))
    assert how in ("eof", "reset"), how
    assert 0.9 <= elapsed <= scaled(4), elapsed
    gw.wait_stats(lambda st: st["upstream_connect_timeouts"] == 1)
