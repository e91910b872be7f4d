"""Admission control's limits (README "Admission control"): token buckets for new
connections and for full handshakes (per source, per name, per JA4; a resumption is not
charged), the bounds on connections and handshakes in progress (per listener, in all, per
source: slowloris), and load shedding by cost (a resumption admitted, the costly source's
full handshake refused, a newcomer served). Rules themselves: test_admission.py.

Timing: the buckets refill slowly (a token in seconds) so that a burst made of a few
loopback handshakes cannot earn one by accident; waits for a refill are generous."""

from __future__ import annotations

import ssl

import pytest

from admission_client import (admission_yaml, attempt, close_all, closed_at_once,
                              connect_from, ctx_for, hold_idle, settle, wait_gauge)


# ---------------------------------------------------------------- token buckets


def test_a_source_over_its_connection_rate_is_refused_until_the_bucket_refills(gateway, pki):
    gw = gateway(extra_yaml=admission_yaml(
        "{source: 127.0.0.0/24, action: limit, connections_per_second: 0.4, "
        "connection_burst: 3}"))
    ctx = ctx_for(pki)
    assert [attempt(gw.port, "127.0.0.3", ctx).served for _ in range(3)] == [True] * 3
    assert attempt(gw.port, "127.0.0.3", ctx).outcome == "closed"
    assert attempt(gw.port, "127.0.0.4", ctx).served  # a bucket per source
    wait_gauge(gw, "admission_connection_limited", 1)
    settle(3.0)  # one token in 2.5 s
    assert attempt(gw.port, "127.0.0.3", ctx).served
    stats = gw.stats()
    assert stats["admission_connection_limited"] == 1
    assert stats["ssl_total_success_handshake_count_in"] == 5


@pytest.mark.parametrize("max_version", [None, ssl.TLSVersion.TLSv1_2], ids=["tls1_3", "tls1_2"])
def test_full_handshakes_over_the_rate_are_refused_while_resumptions_pass(gateway, pki,
                                                                          max_version):
    gw = gateway(extra_yaml=admission_yaml(
        "{source: 127.0.0.0/24, action: limit, handshakes_per_second: 0.1, "
        "handshake_burst: 2}"))
    ctx = ctx_for(pki, max_version=max_version)
    first = attempt(gw.port, "127.0.0.3", ctx)
    assert first.served and first.session is not None and not first.reused
    assert attempt(gw.port, "127.0.0.3", ctx).served
    assert attempt(gw.port, "127.0.0.3", ctx).outcome == "closed"
    for _ in range(3):  # the bucket is empty: only a resumption gets through
        again = attempt(gw.port, "127.0.0.3", ctx, session=first.session)
        assert again.served and again.reused, again
    assert attempt(gw.port, "127.0.0.4", ctx).served
    stats = wait_gauge(gw, "admission_handshake_limited", 1)
    assert stats["admission_connection_limited"] == 0
    assert stats["ssl_ticket_verified"] == 3, stats


def test_buckets_per_name_and_per_ja4(gateway, pki):
    gw = gateway(extra_yaml=admission_yaml(
        "{sni: [a.test, alias-a.test], action: limit, per: sni, connections_per_second: 0.1, "
        "connection_burst: 2}",
        "{sni: b.test, action: limit, per: ja4, handshakes_per_second: 0.1, "
        "handshake_burst: 2}"))
    ctx = ctx_for(pki)
    # By name, whatever the source: a.test's bucket runs dry, alias-a.test's is full.
    assert attempt(gw.port, "127.0.0.3", ctx, sni="a.test").served
    assert attempt(gw.port, "127.0.0.4", ctx, sni="a.test").served
    assert attempt(gw.port, "127.0.0.5", ctx, sni="a.test").outcome == "closed"
    assert attempt(gw.port, "127.0.0.3", ctx, sni="alias-a.test").served
    wait_gauge(gw, "admission_connection_limited", 1)
    # By JA4: the client with ALPN runs dry, the same client without ALPN is another JA4.
    named = ctx_for(pki, check_hostname=False)
    plain = ctx_for(pki, alpn=None, check_hostname=False)
    assert attempt(gw.port, "127.0.0.3", named, sni="b.test").served
    assert attempt(gw.port, "127.0.0.4", named, sni="b.test").served
    assert attempt(gw.port, "127.0.0.5", named, sni="b.test").outcome == "closed"
    assert attempt(gw.port, "127.0.0.5", plain, sni="b.test").served
    stats = wait_gauge(gw, "admission_handshake_limited", 1)
    assert stats["admission_connection_limited"] == 1
    assert stats["ssl_total_success_handshake_count_in"] == 6


# ---------------------------------------------------------------- bounds


def refused_while_held(gw, held: list, gauge: str, count: int, counter: str,
                       source: str) -> None:
    """While `held` is open (the gauge at `count`), a connection from `source` is closed
    at accept and counted in `counter`; once `held` closes, the gauge drops to 0."""
    try:
        stats = wait_gauge(gw, gauge, count)
        assert stats[counter] == 0, stats
        with connect_from(gw.port, source) as s:
            assert closed_at_once(s)
        wait_gauge(gw, counter, 1)
    finally:
        close_all(held)
    wait_gauge(gw, gauge, 0)


def established(port: int, source: str, ctx) -> ssl.SSLSocket:
    """A TLS connection whose handshake is over, left open."""
    return ctx.wrap_socket(connect_from(port, source), server_hostname="a.test")


def test_a_listeners_max_connections(gateway, pki):
    # Its own port: two listeners written alike ("127.0.0.1:0") share their stats, and so
    # the count max_connections reads.
    gw, _ = gateway.with_free_port(lambda port: dict(listeners=[
        {"listen": f"127.0.0.1:{port}", "max_connections": 2}, "127.0.0.1:0"]))
    idle = hold_idle(gw.port, "127.0.0.3", 2)
    assert attempt(gw.ports[1], "127.0.0.4", ctx_for(pki)).served  # another listener
    refused_while_held(gw, idle, "handshakes_in_progress", 2, "admission_max_connections",
                       "127.0.0.4")
    wait_gauge(gw, "connections_active", 0)
    assert attempt(gw.port, "127.0.0.4", ctx_for(pki)).served


@pytest.mark.parametrize("setting,gauge", [("max_connections", "connections_active"),
                                           ("max_handshakes", "handshakes_in_progress")])
def test_the_global_bounds(gateway, pki, setting, gauge):
    """Two established connections and two idle ones: max_connections counts all four,
    max_handshakes the idle two (the established ones' handshakes are over)."""
    count = 4 if setting == "max_connections" else 2
    gw = gateway(extra_yaml=admission_yaml(**{setting: count}))
    ctx = ctx_for(pki)
    held = [established(gw.port, "127.0.0.3", ctx), established(gw.port, "127.0.0.3", ctx)]
    wait_gauge(gw, "handshakes_in_progress", 0)  # the server has read their Finished too
    held += hold_idle(gw.port, "127.0.0.4", 1) + hold_idle(gw.port, "127.0.0.5", 1)
    refused_while_held(gw, held, gauge, count, f"admission_{setting}", "127.0.0.6")
    assert attempt(gw.port, "127.0.0.6", ctx).served


def test_per_source_connections(gateway, pki):
    gw = gateway(extra_yaml=admission_yaml(per_source_connections=2))
    ctx = ctx_for(pki)
    held = [established(gw.port, "127.0.0.3", ctx), established(gw.port, "127.0.0.3", ctx)]
    try:
        wait_gauge(gw, "connections_active", 2)
        assert attempt(gw.port, "127.0.0.3", ctx).outcome == "closed"
        assert attempt(gw.port, "127.0.0.4", ctx).served
        wait_gauge(gw, "admission_source_connections", 1)
    finally:
        close_all(held)
    wait_gauge(gw, "connections_active", 0)
    assert attempt(gw.port, "127.0.0.3", ctx).served


def test_per_source_handshakes_stops_a_slowloris_source_only(gateway, pki):
    allow = "{source: 127.0.0.5, action: allow}"
    gw = gateway(extra_yaml=admission_yaml(allow, per_source_handshakes=3), debug_tags="net")
    ctx = ctx_for(pki)
    idle = hold_idle(gw.port, "127.0.0.3", 3)
    try:
        wait_gauge(gw, "handshakes_in_progress", 3)
        with connect_from(gw.port, "127.0.0.3") as s:
            assert closed_at_once(s)
        assert attempt(gw.port, "127.0.0.4", ctx).served
        idle += hold_idle(gw.port, "127.0.0.5", 4)  # allowed: no per-source bound
        wait_gauge(gw, "handshakes_in_progress", 7)
        assert gw.stats()["admission_source_handshakes"] == 1
    finally:
        close_all(idle)
    wait_gauge(gw, "handshakes_in_progress", 0)
    assert attempt(gw.port, "127.0.0.3", ctx).served
    assert gw.wait_line(r"\[net\] .*127\.0\.0\.3:\d+: per_source_handshakes reached"), \
        gw.stderr_text()


def test_refused_connections_give_their_places_back(gateway, pki):
    """Every bound at 1: a refusal at accept, at the ClientHello (a limit, an alert) or a
    served connection that kept its place would refuse everything after it."""
    gw = gateway(listeners=[{"listen": "127.0.0.1:0", "max_connections": 1}],
                 extra_yaml=admission_yaml(
                     "{source: 127.0.0.4, action: deny}",
                     "{sni: b.test, action: deny, deny_with: alert}",
                     "{source: 127.0.0.3, action: limit, handshakes_per_second: 0.1, "
                     "handshake_burst: 1}",
                     max_connections=1, max_handshakes=1, per_source_connections=1,
                     per_source_handshakes=1))
    ctx = ctx_for(pki, check_hostname=False)  # b.test's certificate names www.b.test
    steps = [("127.0.0.3", "a.test", "served"), ("127.0.0.3", "a.test", "closed"),
             ("127.0.0.4", "a.test", "closed"), ("127.0.0.3", "b.test", "alert"),
             ("127.0.0.3", "a.test", "closed"), ("127.0.0.5", "a.test", "served")]
    first = None
    for source, sni, outcome in steps:
        got = attempt(gw.port, source, ctx, sni=sni)
        assert got.outcome.startswith(outcome), (source, sni, got)
        first = first or got.session
        wait_gauge(gw, "connections_active", 0)
    resumed = attempt(gw.port, "127.0.0.3", ctx, session=first)
    assert resumed.served and resumed.reused, resumed
    stats = wait_gauge(gw, "handshakes_in_progress", 0)
    assert (stats["admission_handshake_limited"], stats["admission_denied"]) == (2, 2), stats
    for bound in ("max_connections", "max_handshakes", "source_connections",
                  "source_handshakes"):
        assert stats[f"admission_{bound}"] == 0, stats


def test_sources_are_grouped_by_their_prefix(gateway, pki):
    gw = gateway(extra_yaml=admission_yaml(source_prefix_v4=24, per_source_handshakes=2))
    idle = hold_idle(gw.port, "127.0.0.3", 1) + hold_idle(gw.port, "127.0.0.4", 1)
    assert attempt(gw.port, "127.0.1.5", ctx_for(pki)).served  # another /24
    # 127.0.0.5: the same /24 as the idle ones, whose quota they fill.
    refused_while_held(gw, idle, "handshakes_in_progress", 2, "admission_source_handshakes",
                       "127.0.0.5")


# ---------------------------------------------------------------- load shedding


def test_shedding_refuses_the_costly_source_and_admits_resumptions_and_newcomers(gateway, pki):
    gw = gateway(threads=1, debug_tags="net", extra_yaml=admission_yaml(
        "{source: 127.0.0.6, action: allow}",
        shed="{enabled: true, max_handshakes: 4, max_loop_lag_ms: 60000}"))
    ctx = ctx_for(pki)
    ticket = attempt(gw.port, "127.0.0.1", ctx)
    assert ticket.served and ticket.session is not None
    for _ in range(24):  # 127.0.0.3's cost: two dozen full handshakes in a moment
        assert attempt(gw.port, "127.0.0.3", ctx).served
    for _ in range(6):  # as costly, were it not allowed
        assert attempt(gw.port, "127.0.0.6", ctx).served
    # 127.0.0.7 is as costly, but it resumes too (a NAT with real visitors behind it).
    mixed = attempt(gw.port, "127.0.0.7", ctx)
    for _ in range(23):
        assert attempt(gw.port, "127.0.0.7", ctx).served
    for _ in range(8):
        assert attempt(gw.port, "127.0.0.7", ctx, session=mixed.session).reused
    idle = hold_idle(gw.port, "127.0.0.4", 8)  # more than 4 in progress: overloaded
    try:
        wait_gauge(gw, "shedding_workers", 1)
        # The flooder that never resumes: refused at accept, whatever it would send.
        assert attempt(gw.port, "127.0.0.3", ctx).outcome == "closed"
        assert attempt(gw.port, "127.0.0.3", ctx, session=ticket.session).outcome == "closed"
        # The one that resumes: its resumption passes, its full handshake is shed.
        resumed = attempt(gw.port, "127.0.0.7", ctx, session=mixed.session)
        assert resumed.served and resumed.reused, resumed
        assert attempt(gw.port, "127.0.0.7", ctx).outcome == "closed"
        # A visitor back after one full handshake resumes; a newcomer gets its first.
        resumed = attempt(gw.port, "127.0.0.1", ctx, session=ticket.session)
        assert resumed.served and resumed.reused, resumed
        assert attempt(gw.port, "127.0.0.5", ctx).served
        assert attempt(gw.port, "127.0.0.6", ctx).served  # allowed: never shed
        stats = gw.stats()
        assert stats["shed_connections"] == 2, stats
        assert stats["shed_full_handshakes"] == 1, stats
        assert stats["resumptions_admitted_while_shedding"] == 2, stats
        assert stats["shedding_workers"] == 1, stats
    finally:
        close_all(idle)
    wait_gauge(gw, "shedding_workers", 0)
    assert attempt(gw.port, "127.0.0.3", ctx).served
    assert gw.wait_line(r"\[net\] .*worker 0: starts shedding full handshakes"), gw.stderr_text()
    assert gw.wait_line(r"\[net\] .*worker 0: stops shedding"), gw.stderr_text()
