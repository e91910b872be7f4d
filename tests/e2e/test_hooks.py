"""TLS hooks with the hook_test plugin (S7 PRE_ACCEPT, S10 SNI/CERT, S13 close while held),
after ATS's tls_hooks gold tests: one scenario per line, real clients, the real binary.

hook_test prints one line per hook invocation,
    hook_test[NAME]: POINT id=ID sni=SNI count=N ja4=JA4
and `hook_test[NAME]: POINT id=ID reenable from thread` before a delayed re-enable; the tests
read those lines from tlsgate's stderr (see plugins/hook_test/hook_test.c).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from conftest import scaled
from hook_lines import assert_still_serving, by_id, closes, tags, wait_lines
from tlsclient import (HOST, client_context, client_hello_bytes, http_get, inspect,
                       is_tls_alert, through_tunnel, tls_connect, wait_closed)
from upstreams import TlsServer, closed_port

POINTS = ("vconn_start", "client_hello", "cert", "vconn_close")
HANDSHAKE_POINTS = ("vconn_start", "client_hello", "cert")
# TLS alert descriptions.
HANDSHAKE_FAILURE = 40
INTERNAL_ERROR = 80


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def _connect_send_hello(port: int, sni: str = "a.test") -> socket.socket:
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(client_hello_bytes(sni))
    return s


def _only_id(lines: list[HookLine]) -> int:
    ids = list(by_id(lines))
    assert len(ids) == 1, f"expected lines of one connection, got ids {ids}: {tags(lines)}"
    return ids[0]


# --------------------------------------------------------------------------------------
# One or two hooks on one point, immediate re-enable (S7, S10)
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("point", HANDSHAKE_POINTS)
def test_hooks_on_one_point(gateway, pki, ht, point, n):
    """S7 (vconn_start) / S10 (cert) / client_hello: N entries of hook_test on one point
    (the same .so loaded twice, each with its own args): every handshake succeeds, each
    instance runs once per connection, in registration order (A before B), and counts its
    own invocations."""
    names = ["A", "B"][:n]
    gw = gateway(plugins=[ht(name, point) for name in names])
    ctx = client_context(pki.ca)
    for _ in range(2):
        r = inspect(gw.port, ctx, "a.test", timeout=scaled(10))
        assert r.status == 200 and r.json["sni"] == "a.test"
    lines = wait_lines(gw, lambda ls: len(by_id(ls)) >= 2
                       and all(len(v) >= n for v in by_id(ls).values()), settle=0.2)
    conns = by_id(lines)
    assert len(conns) == 2, tags(lines)
    for k, (conn_id, ls) in enumerate(conns.items(), start=1):
        assert tags(ls) == [f"{name}:{point}" for name in names], (conn_id, tags(ls))
        assert all(l.count == k for l in ls), ls
        want_sni = "-" if point == "vconn_start" else "a.test"
        assert all(l.sni == want_sni for l in ls), ls
    s = gw.wait_stats(lambda s: s["ssl_total_success_handshake_count_in"] >= 2)
    assert s["ssl_total_success_handshake_count_in"] == 2, s


def test_preaccept_and_cert_hooks(gateway, pki, ht):
    """S7 + S10: vconn_start hooks (A, then C) all run before the cert hooks (B, then C),
    each chain in registration order; the handshake succeeds."""
    gw = gateway(plugins=[ht("A", "vconn_start"), ht("B", "cert"),
                          ht("C", "vconn_start", "cert")])
    r = inspect(gw.port, client_context(pki.ca), "www.b.test", timeout=scaled(10))
    assert r.status == 200
    lines = wait_lines(gw, lambda ls: len(ls) >= 4, settle=0.2)
    conn_id = _only_id(lines)
    assert tags(lines) == ["A:vconn_start", "C:vconn_start", "B:cert", "C:cert"], conn_id
    assert [l.sni for l in lines] == ["-", "-", "www.b.test", "www.b.test"]


def test_hook_order_across_points(gateway, pki, ht):
    """One instance on every point: vconn_start < client_hello < cert < vconn_close for the
    same connection id, each exactly once."""
    gw = gateway(plugins=[ht("A", *POINTS)])
    r = inspect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10))
    assert r.status == 200
    lines = wait_lines(gw, lambda ls: closes(ls), settle=0.3)
    _only_id(lines)
    assert tags(lines) == [f"A:{p}" for p in POINTS]
    assert [l.sni for l in lines[:3]] == ["-", "a.test", "a.test"]


def test_two_instances_keep_their_own_config(gateway, pki, ht):
    """The same .so twice (dlopen gives one handle): A delays, B re-enables at once; only A
    re-enables from a thread, so the second init did not overwrite the first one's
    configuration."""
    gw = gateway(plugins=[ht("A", "cert", mode="delay", ms=200), ht("B", "cert")])
    r = inspect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10))
    assert r.status == 200
    lines = wait_lines(gw, lambda ls: len(ls) >= 3, settle=0.2)
    assert tags(lines) == ["A:cert", "A:cert/thread", "B:cert"]


# --------------------------------------------------------------------------------------
# Immediate and delayed re-enable (S7, S10: "synchronously or later and from any thread")
# --------------------------------------------------------------------------------------

def _timed_handshake(port: int, ctx: ssl.SSLContext, sni: str) -> float:
    """Connect + handshake time; then one request to builtin:inspect (must answer 200)."""
    start = time.monotonic()
    with tls_connect(port, ctx, sni, timeout=scaled(10)) as s:
        elapsed = time.monotonic() - start
        status, _, _ = http_get(s, sni, close=True)
        assert status == 200
    return elapsed


@pytest.mark.parametrize("point", HANDSHAKE_POINTS)
def test_immediate_reenable(gateway, pki, ht, point):
    """Immediate re-enable: the handshake succeeds and no thread is involved."""
    gw = gateway(plugins=[ht("A", point, mode="immediate")])
    _timed_handshake(gw.port, client_context(pki.ca), "a.test")
    lines = wait_lines(gw, lambda ls: len(ls) >= 1, settle=0.2)
    assert tags(lines) == [f"A:{point}"]


@pytest.mark.parametrize("point", HANDSHAKE_POINTS)
def test_delayed_reenable_from_thread(gateway, pki, ht, point):
    """Re-enable 200 ms later from another thread: the handshake succeeds, takes at least
    0.2 s (the connection was held: read readiness did not advance it), and the thread's
    line comes after the hook's."""
    gw = gateway(plugins=[ht("A", point, mode="delay", ms=200)])
    elapsed = _timed_handshake(gw.port, client_context(pki.ca), "a.test")
    assert elapsed >= 0.2, f"handshake done after {elapsed:.3f}s, the hook held it 0.2 s"
    lines = wait_lines(gw, lambda ls: len(ls) >= 2, settle=0.2)
    assert tags(lines) == [f"A:{point}", f"A:{point}/thread"]
    assert gw.stats()["ssl_total_success_handshake_count_in"] == 1


def test_delayed_chain_continues_with_next_hook(gateway, pki, ht):
    """S10: a delayed re-enable continues with the next hook of the chain: A and B both
    delay 200 ms at cert: B runs only after A's thread re-enabled, the handshake takes at
    least 0.4 s."""
    gw = gateway(plugins=[ht("A", "cert", mode="delay", ms=200),
                          ht("B", "cert", mode="delay", ms=200)])
    elapsed = _timed_handshake(gw.port, client_context(pki.ca), "a.test")
    assert elapsed >= 0.4, f"handshake done after {elapsed:.3f}s"
    lines = wait_lines(gw, lambda ls: len(ls) >= 4, settle=0.2)
    assert tags(lines) == ["A:cert", "A:cert/thread", "B:cert", "B:cert/thread"]


def test_delayed_preaccept_then_cert(gateway, pki, ht):
    """S7 then S10, both delayed: the handshake waits for both (>= 0.4 s), in order."""
    gw = gateway(plugins=[ht("A", "vconn_start", "cert", mode="delay", ms=200)])
    elapsed = _timed_handshake(gw.port, client_context(pki.ca), "a.test")
    assert elapsed >= 0.4, f"handshake done after {elapsed:.3f}s"
    lines = wait_lines(gw, lambda ls: len(ls) >= 4, settle=0.2)
    assert tags(lines) == ["A:vconn_start", "A:vconn_start/thread", "A:cert",
                           "A:cert/thread"]


# --------------------------------------------------------------------------------------
# VCONN_CLOSE: exactly once per connection, whatever happened
# --------------------------------------------------------------------------------------

def test_close_hook_once_per_connection(gateway, pki, ht):
    """VCONN_CLOSE runs exactly once for a successful connection, a failed one (plaintext
    on the TLS port), a client that leaves at once, and a handshake timeout."""
    gw = gateway(handshake_timeout=1, plugins=[ht("A", "vconn_close")])
    # 1. success
    r = inspect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10))
    assert r.status == 200
    # 2. failure: plaintext
    with socket.create_connection((HOST, gw.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        how, _, _ = wait_closed(s, timeout=scaled(5))
        assert how != "timeout"
    # 3. a client that connects and closes
    socket.create_connection((HOST, gw.port), timeout=10).close()
    # 4. handshake timeout
    with socket.create_connection((HOST, gw.port), timeout=10) as s:
        how, _, _ = wait_closed(s, timeout=scaled(6))
        assert how != "timeout"
    lines = wait_lines(gw, lambda ls: len(closes(ls)) >= 4, settle=0.5)
    ids = [l.id for l in closes(lines)]
    assert len(ids) == 4 and len(set(ids)) == 4, tags(lines)
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["connections_accepted"] == 4, s
    assert s["ssl_handshake_timeout"] == 1, s
    assert s["connections_active"] == 0, s


# --------------------------------------------------------------------------------------
# never: the handshake timeout ends a held connection
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("point", HANDSHAKE_POINTS)
def test_never_reenabled_times_out(gateway, pki, ht, point):
    """A hook that never re-enables: the client sent its ClientHello, but the connection is
    held (the handshake does not advance) until ssl.handshake_timeout_in (1 s), then closed
    and counted as ssl_handshake_timeout; VCONN_CLOSE runs once; tlsgate keeps running.
    (Serving is not checked: the hook holds every connection.)"""
    gw = gateway(handshake_timeout=1, plugins=[ht("A", point, "vconn_close", mode="never")])
    start = time.monotonic()
    with _connect_send_hello(gw.port) as s:
        how, _, data = wait_closed(s, timeout=scaled(6))
    elapsed = time.monotonic() - start
    assert how in ("eof", "reset"), f"still open after {elapsed:.1f}s"
    assert elapsed >= 0.8, f"closed after {elapsed:.2f}s, before the 1 s timeout"
    assert not data.startswith(b"\x16"), "the handshake advanced while the hook held it"
    s = gw.wait_stats(lambda s: s["ssl_handshake_timeout"] >= 1)
    assert s["ssl_handshake_timeout"] == 1, s
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    lines = wait_lines(gw, lambda ls: closes(ls), settle=0.5)
    conn_id = _only_id(lines)
    assert tags(lines) == [f"A:{point}", "A:vconn_close"], conn_id
    assert gw.alive()


# --------------------------------------------------------------------------------------
# error and terminate
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("point,alert", [("client_hello", HANDSHAKE_FAILURE),
                                         ("cert", INTERNAL_ERROR)])
def test_error_after_client_hello_sends_alert(gateway, pki, ht, point, alert):
    """reenable_error once the ClientHello is read: the client's handshake fails with an
    alert (raw bytes; and Python ssl raises SSLError) as plugin.h documents it: at
    CLIENT_HELLO handshake_failure, at CERT internal_error (OpenSSL's certificate callback
    cannot choose its alert). No success is counted; VCONN_CLOSE once per connection."""
    gw = gateway(plugins=[ht("A", point, "vconn_close", mode="error")])
    with _connect_send_hello(gw.port) as s:
        how, _, data = wait_closed(s, timeout=scaled(5))
    assert how != "timeout", "connection left open after reenable_error"
    assert is_tls_alert(data), f"expected a TLS alert, got {data[:32]!r} ({how})"
    assert data[5:7] == bytes([2, alert]), f"alert {data[5:7].hex()}, expected fatal {alert}"
    with pytest.raises(ssl.SSLError) as e:
        inspect(gw.port, client_context(pki.ca), "a.test", timeout=scaled(10))
    assert not isinstance(e.value, ssl.SSLEOFError), f"no alert, just EOF: {e.value!r}"
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    lines = wait_lines(gw, lambda ls: len(closes(ls)) >= 2, settle=0.3)
    conns = by_id(lines)
    assert len(conns) == 2
    for ls in conns.values():
        assert tags(ls) == [f"A:{point}", "A:vconn_close"]


def test_error_at_vconn_start_closes(gateway, pki, ht):
    """reenable_error at vconn_start (nothing read yet): the connection is closed without an
    alert, no handshake happens, VCONN_CLOSE once."""
    gw = gateway(plugins=[ht("A", "vconn_start", "vconn_close", mode="error")])
    with _connect_send_hello(gw.port) as s:
        how, _, data = wait_closed(s, timeout=scaled(5))
    assert how in ("eof", "reset"), "connection left open after reenable_error"
    assert data == b"", f"unexpected answer {data[:32]!r}"
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    lines = wait_lines(gw, lambda ls: closes(ls), settle=0.3)
    _only_id(lines)
    assert tags(lines) == ["A:vconn_start", "A:vconn_close"]
    assert gw.alive()


@pytest.mark.parametrize("point", HANDSHAKE_POINTS)
def test_terminate_closes_without_alert(gateway, pki, ht, point):
    """terminate: the connection is closed at once, without an alert; no handshake success
    is counted; VCONN_CLOSE once; the gateway keeps running."""
    gw = gateway(plugins=[ht("A", point, "vconn_close", mode="terminate")])
    with _connect_send_hello(gw.port) as s:
        how, _, data = wait_closed(s, timeout=scaled(5))
    assert how in ("eof", "reset"), "connection left open after terminate"
    assert data == b"", f"terminate sent bytes: {data[:32]!r}"
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    assert s["connections_active"] == 0, s
    lines = wait_lines(gw, lambda ls: closes(ls), settle=0.3)
    _only_id(lines)
    assert tags(lines) == [f"A:{point}", "A:vconn_close"]
    assert gw.alive()


# --------------------------------------------------------------------------------------
# tunnel (S7: nothing consumed yet; S10: the ClientHello is replayed)
# --------------------------------------------------------------------------------------

TUNNEL_CN = "tunnel-server.test"


@pytest.fixture(scope="session")
def tunnel_cert(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for the tunnel's TLS server: a subject none of tlsgate's
    certificates has."""
    d = tmp_path_factory.mktemp("tunnel-pki")
    crt, key = d / "tunnel.crt", d / "tunnel.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-days", "30", "-subj", f"/CN={TUNNEL_CN}", "-keyout", str(key),
                    "-out", str(crt)], check=True, capture_output=True, timeout=60)
    return crt, key


def _der_of(crt: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(crt.read_text())


@pytest.mark.parametrize("point", HANDSHAKE_POINTS)
def test_tunnel_to_tls_server(gateway, pki, ht, tunnel_cert, point):
    """tunnel to a real TLS server: at vconn_start nothing was read (S7); at client_hello and
    cert the buffered ClientHello is replayed (S10). Either way the tunnel server completes
    the handshake with the client, which sees THAT server's certificate (not one of
    tlsgate's) and the SNI it sent; tlsgate counts no handshake of its own; VCONN_CLOSE
    once when the tunnel ends."""
    crt, key = tunnel_cert
    with TlsServer(crt, key) as up:
        gw = gateway(plugins=[ht("A", point, "vconn_close", mode="tunnel",
                                 tunnel=up.address)])
        der, line = through_tunnel(gw.port, "a.test", timeout=scaled(10))
        assert der == _der_of(crt), "the client did not get the tunnel server's certificate"
        assert der != _der_of(pki.crt("a"))
        assert line == b"tunnel-server sni=a.test\n", line
        assert up.wait_finished(1, scaled(5)), "tunnel server connection not closed"
        assert not up.errors, up.errors
        assert len(up.records) == 1 and up.records[0]["handshake"]
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["ssl_total_success_handshake_count_in"] == 0, s
    assert s["connections_active"] == 0, s
    lines = wait_lines(gw, lambda ls: closes(ls), settle=0.3)
    _only_id(lines)
    assert tags(lines) == [f"A:{point}", "A:vconn_close"]


def test_tunnel_after_delayed_cert_hook(gateway, pki, ht, tunnel_cert):
    """S10: A delays at cert (re-enable from a thread), then B asks for the tunnel: the
    replay still works after the pause."""
    crt, key = tunnel_cert
    with TlsServer(crt, key) as up:
        gw = gateway(plugins=[ht("A", "cert", mode="delay", ms=200),
                              ht("B", "cert", mode="tunnel", tunnel=up.address)])
        der, line = through_tunnel(gw.port, "b.test", timeout=scaled(10))
        assert der == _der_of(crt)
        assert line == b"tunnel-server sni=b.test\n", line
    lines = wait_lines(gw, lambda ls: len(ls) >= 3, settle=0.2)
    assert tags(lines) == ["A:cert", "A:cert/thread", "B:cert"]


def test_tunnel_to_closed_port(gateway, pki, ht):
    """tunnel to a port where nothing listens: the client's connection is closed (no hang),
    VCONN_CLOSE once, the gateway keeps serving."""
    gw = gateway(plugins=[ht("A", "vconn_start", "vconn_close", mode="tunnel",
                             tunnel=f"127.0.0.1:{closed_port()}")])
    with _connect_send_hello(gw.port) as s:
        how, _, data = wait_closed(s, timeout=scaled(5))
    assert how in ("eof", "reset"), "connection left open after a failed tunnel"
    assert not data.startswith(b"\x16"), data[:32]
    lines = wait_lines(gw, lambda ls: closes(ls), settle=0.3)
    _only_id(lines)
    assert tags(lines) == ["A:vconn_start", "A:vconn_close"]
    s = gw.wait_stats(lambda s: s["connections_active"] == 0)
    assert s["connections_active"] == 0, s


# --------------------------------------------------------------------------------------
# S13: the client goes away (or the handshake times out) while a hook holds the connection
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("close_delayed", [False, True], ids=["close-immediate",
                                                              "close-delayed"])
@pytest.mark.parametrize("point", ["vconn_start", "cert"])
def test_client_leaves_while_hook_holds(gateway, pki, ht, point, close_delayed):
    """S13: the hook at POINT re-enables 200 ms later from its thread; the client sends its
    ClientHello and disconnects at once. The connection is not freed under the hook: the
    late re-enable only releases it. tlsgate keeps running and serving, VCONN_CLOSE runs
    exactly once for that connection (also when the close hook itself is delayed),
    connections_active drops to 0, and tlsgate exits 0 at stop (under ASan/TSan builds:
    no use-after-free, no race)."""
    if close_delayed:
        plugins = [ht("A", point, "vconn_close", mode="delay", ms=200)]
    else:
        plugins = [ht("A", point, mode="delay", ms=200), ht("B", "vconn_close")]
    gw = gateway(plugins=plugins)
    s = _connect_send_hello(gw.port, "s13.test")
    s.close()
    time.sleep(scaled(0.5))
    assert gw.alive(), gw.stderr_text()

    lines = wait_lines(gw, lambda ls: closes(ls) and any(l.thread for l in ls),
                       timeout=5.0, settle=0.5)
    held = [l for l in lines if l.point == point and not l.thread]
    assert len(held) == 1, tags(lines)
    conn_id = held[0].id
    if point == "cert":
        assert held[0].sni == "s13.test"
    assert [l.id for l in lines if l.thread and l.point == point] == [conn_id], tags(lines)
    assert len(closes(lines, conn_id)) == 1, tags(lines)
    st = gw.wait_stats(lambda st: st["connections_active"] == 0)
    assert st["connections_active"] == 0, st
    assert st["ssl_total_success_handshake_count_in"] == 0, st

    assert_still_serving(gw, pki)
    lines = wait_lines(gw, lambda ls: len(closes(ls)) >= 2, settle=0.3)
    assert len(closes(lines, conn_id)) == 1, tags(lines)
    assert len(closes(lines)) == 2, tags(lines)


def test_many_clients_leave_while_held(gateway, pki, ht):
    """S13 under load: 30 clients each send a ClientHello and leave while the cert hook
    holds their connection (100 ms, re-enabled from threads); every connection gets
    exactly one VCONN_CLOSE and is released; tlsgate keeps serving and exits 0."""
    n = 30
    gw = gateway(plugins=[ht("A", "cert", mode="delay", ms=100), ht("B", "vconn_close")])
    for i in range(n):
        s = _connect_send_hello(gw.port, f"c{i}.s13.test")
        s.close()
    lines = wait_lines(gw, lambda ls: len(closes(ls)) >= n, timeout=10.0, settle=0.5)
    ids = [l.id for l in closes(lines)]
    assert len(ids) == n and len(set(ids)) == n, f"{len(ids)} close lines, {len(set(ids))} ids"
    st = gw.wait_stats(lambda st: st["connections_active"] == 0)
    assert st["connections_active"] == 0, st
    assert st["connections_accepted"] == n, st
    assert_still_serving(gw, pki)


def test_timeout_while_hook_holds(gateway, pki, ht):
    """S13 + S1: the handshake times out (1 s) while the cert hook holds the connection
    (its re-enable comes after 2 s): the client is closed at the timeout, the late re-enable
    only releases the connection; VCONN_CLOSE once; connections_active back to 0."""
    gw = gateway(handshake_timeout=1,
                 plugins=[ht("A", "cert", mode="delay", ms=2000), ht("B", "vconn_close")])
    start = time.monotonic()
    with _connect_send_hello(gw.port) as s:
        how, _, data = wait_closed(s, timeout=scaled(6))
    elapsed = time.monotonic() - start
    assert how in ("eof", "reset"), f"still open after {elapsed:.1f}s"
    assert elapsed >= 0.8, f"closed after {elapsed:.2f}s"
    lines = wait_lines(gw, lambda ls: any(l.thread for l in ls) and closes(ls),
                       timeout=8.0, settle=0.5)
    conn_id = _only_id(lines)
    assert len(closes(lines, conn_id)) == 1, tags(lines)
    assert "A:cert/thread" in tags(lines)
    st = gw.wait_stats(lambda st: st["connections_active"] == 0)
    assert st["ssl_handshake_timeout"] == 1, st
    assert st["connections_active"] == 0, st
    assert st["ssl_total_success_handshake_count_in"] == 0, st
    # (Serving is not checked: every handshake would outlast the timeout in this hook.)
    assert gw.alive()
