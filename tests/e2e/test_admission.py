"""Admission control's rules (README "Admission control"): deny by source (closed at accept,
before any TLS byte), by SNI with an access_denied alert (exact and wildcard), by JA4;
allow exempting a source from a limit; a reload swapping the rules; the gauges and refusal
counters in /metrics; a bad rule named by `--check`. Limits, bounds and load shedding:
test_admission_limits.py.

Clients connect from chosen loopback sources (127.0.0.3, 127.0.0.4...): each is a source of
its own to tlsgate (admission_client.py)."""

from __future__ import annotations

import json
import re
import subprocess

from admin_client import admin_yaml, metric, parse_metrics, request
from admission_client import (ALERT_ACCESS_DENIED, LOG_YAML, admission_yaml, attempt,
                              close_all, connect_from, ctx_for, hello_answer, hold_idle,
                              wait_gauge, yaml_line)
from conftest import Gateway, scaled
from test_access_log import wait_lines
from test_proxy_protocol import inspect_behind_proxy, pp_listener, proxy_v2
from tlsclient import client_hello_bytes, s_client, wait_closed


def test_a_denied_source_is_closed_at_accept_and_other_sources_are_served(gateway, pki):
    rule = "{source: 127.0.0.3, action: deny}"
    gw = gateway(extra_yaml=admission_yaml(rule) + LOG_YAML, debug_tags="net")
    how, answer = hello_answer(gw.port, "127.0.0.3")
    assert how in ("eof", "reset") and answer == b"", (how, answer)  # no ServerHello, no alert
    assert attempt(gw.port, "127.0.0.4", ctx_for(pki)).served
    stats = wait_gauge(gw, "admission_denied", 1)
    assert stats["ssl_total_success_handshake_count_in"] == 1

    refused, served = sorted(wait_lines(gw.dir / "access.log", 2),
                             key=lambda l: l["outcome"] != "admission_refused")
    assert refused["outcome"] == "admission_refused" and refused["class"] == "error", refused
    assert refused["client"].startswith("127.0.0.3:"), refused
    assert refused["ja4"] is None and refused["sni"] is None, refused  # nothing was read
    assert refused["bytes_in"] == 0 and refused["bytes_out"] == 0, refused
    assert served["outcome"] == "done" and served["client"].startswith("127.0.0.4:"), served
    line = yaml_line(gw, rule)
    assert gw.wait_line(r"\[net\].*127\.0\.0\.3:\d+: denied \(admission rule at "
                        rf"tlsgate\.yaml:{line}\)"), gw.stderr_text()


def test_a_rule_for_one_listener_leaves_the_others_alone(gateway, pki):
    def config(port: int) -> dict:
        return dict(listeners=[f"127.0.0.1:{port}", "127.0.0.1:0"], extra_yaml=admission_yaml(
            f"{{listener: '127.0.0.1:{port}', action: deny}}"))

    gw, port = gateway.with_free_port(config)
    assert attempt(port, "127.0.0.3", ctx_for(pki)).outcome == "closed"
    assert attempt(gw.ports[1], "127.0.0.3", ctx_for(pki)).served
    wait_gauge(gw, "admission_denied", 1)


def test_behind_a_proxy_the_source_its_header_names_is_the_one_judged(gateway, pki):
    gw = gateway(listeners=[pp_listener(["127.0.0.1"])],
                 extra_yaml=admission_yaml("{source: 192.0.2.0/24, action: deny}"))
    header = proxy_v2("192.0.2.7", 5555, "127.0.0.1", gw.port)
    with connect_from(gw.port, "127.0.0.1") as s:
        s.sendall(header + client_hello_bytes("a.test"))
        how, _, answer = wait_closed(s, scaled(10))
    assert how in ("eof", "reset") and answer == b"", (how, answer)
    other = proxy_v2("198.51.100.7", 5555, "127.0.0.1", gw.port)
    answer, _ = inspect_behind_proxy(gw.port, other, ctx_for(pki), "a.test", one_segment=True)
    assert answer["client"].startswith("198.51.100.7:"), answer
    stats = wait_gauge(gw, "admission_denied", 1)
    assert stats["proxy_protocol_accepted"] == 2


def test_a_denied_name_gets_an_access_denied_alert_exact_and_wildcard(gateway, pki):
    gw = gateway(extra_yaml=admission_yaml(
        "{sni: b.test, action: deny, deny_with: alert}",
        "{sni: '*.wild.test', action: deny, deny_with: alert}") + LOG_YAML)
    exact = s_client(gw.port, "-brief", sni="b.test", timeout=scaled(20))
    assert not exact.handshake_ok and "alert access denied" in exact.out, exact.out
    wild = attempt(gw.port, "127.0.0.1", ctx_for(pki), sni="x.wild.test")
    assert wild.outcome == "alert: TLSV1_ALERT_ACCESS_DENIED", wild
    how, answer = hello_answer(gw.port, "127.0.0.1", sni="deep.x.wild.test")
    assert answer[:1] == b"\x15" and answer[5:7] == bytes([2, ALERT_ACCESS_DENIED]), answer
    # Neither pattern covers these: a.test, and the wildcard's own apex (default cert).
    assert attempt(gw.port, "127.0.0.1", ctx_for(pki), sni="a.test").served
    assert attempt(gw.port, "127.0.0.1", ctx_for(pki, check_hostname=False),
                   sni="wild.test").served
    stats = wait_gauge(gw, "admission_denied", 3)
    assert stats["ssl_total_success_handshake_count_in"] == 2

    lines = wait_lines(gw.dir / "access.log", 5)
    refused = [l for l in lines if l["outcome"] == "admission_refused"]
    assert len(refused) == 3, lines
    assert f"127.0.0.1:{wild.client_port}" in [l["client"] for l in refused], lines
    # Refused at the ClientHello: its JA4 is known, no TLS version was negotiated.
    assert all(l["ja4"] and l["tls_version"] is None for l in refused), refused


def test_a_denied_ja4_is_refused_and_other_client_options_are_served(gateway, pki):
    gw = gateway(extra_yaml=LOG_YAML)
    h1, plain = ctx_for(pki), ctx_for(pki, alpn=None)
    first = attempt(gw.port, "127.0.0.3", h1)
    assert first.served
    ja4 = json.loads(first.body)["ja4"]
    [logged] = wait_lines(gw.dir / "access.log", 1)
    assert logged["ja4"] == ja4, (logged, ja4)

    gw.extra_yaml = LOG_YAML + admission_yaml(f"{{ja4: {ja4}, action: deny}}")
    gw.yaml_path.write_text(gw.yaml_text())
    assert re.match(r"^tlsgate: reload ok", gw.reload()), gw.stderr_text()
    assert attempt(gw.port, "127.0.0.3", h1).outcome == "closed"  # deny_with: close
    other = attempt(gw.port, "127.0.0.3", plain)  # no ALPN: another fingerprint
    assert other.served and json.loads(other.body)["ja4"] != ja4
    stats = wait_gauge(gw, "admission_denied", 1)
    assert stats["ssl_total_success_handshake_count_in"] == 2
    refused = [l for l in wait_lines(gw.dir / "access.log", 3)
               if l["outcome"] == "admission_refused"]
    assert [l["ja4"] for l in refused] == [ja4], refused


def test_an_allowed_source_is_exempt_from_a_limit_that_refuses_others(gateway, pki):
    gw = gateway(extra_yaml=admission_yaml(
        "{source: 127.0.0.3, action: allow}",
        "{action: limit, connections_per_second: 0.1, connection_burst: 1}"))
    ctx = ctx_for(pki)
    assert attempt(gw.port, "127.0.0.4", ctx).served
    assert attempt(gw.port, "127.0.0.4", ctx).outcome == "closed"
    assert all(attempt(gw.port, "127.0.0.3", ctx).served for _ in range(4))
    stats = wait_gauge(gw, "admission_connection_limited", 1)
    assert stats["ssl_total_success_handshake_count_in"] == 5


def test_a_reload_swaps_the_rules_for_new_connections(gateway, pki):
    gw = gateway()
    ctx = ctx_for(pki)
    assert attempt(gw.port, "127.0.0.3", ctx).served
    gw.extra_yaml = admission_yaml("{source: 127.0.0.3/32, action: deny}")
    gw.yaml_path.write_text(gw.yaml_text())
    assert re.match(r"^tlsgate: reload ok", gw.reload()), gw.stderr_text()
    assert attempt(gw.port, "127.0.0.3", ctx).outcome == "closed"
    assert attempt(gw.port, "127.0.0.4", ctx).served
    wait_gauge(gw, "admission_denied", 1)
    gw.extra_yaml = ""  # and back: no rule
    gw.yaml_path.write_text(gw.yaml_text())
    assert re.match(r"^tlsgate: reload ok", gw.reload()), gw.stderr_text()
    assert attempt(gw.port, "127.0.0.3", ctx).served
    assert gw.stats()["admission_denied"] == 1


def test_metrics_show_the_admission_gauges_and_refusal_counters(gateway, pki):
    gw = gateway(extra_yaml=admin_yaml(admission_yaml("{source: 127.0.0.3, action: deny}")))
    assert attempt(gw.port, "127.0.0.3", ctx_for(pki)).outcome == "closed"
    idle = hold_idle(gw.port, "127.0.0.4", 2)
    try:
        wait_gauge(gw, "handshakes_in_progress", 2)
        status, _, text = request(gw, "GET", "/metrics")
    finally:
        close_all(idle)
    assert status == 200
    for gauge in ("tlsgate_handshakes_in_progress", "tlsgate_shedding_workers"):
        assert f"# TYPE {gauge} gauge" in text, text
    m = parse_metrics(text)
    assert metric(m, "tlsgate_handshakes_in_progress") == 2
    assert metric(m, "tlsgate_shedding_workers") == 0
    assert metric(m, "tlsgate_admission_denied_total") == 1
    for counter in ("admission_connection_limited", "admission_handshake_limited",
                    "admission_max_connections", "admission_max_handshakes",
                    "admission_source_connections", "admission_source_handshakes",
                    "shed_full_handshakes", "resumptions_admitted_while_shedding"):
        assert f"# TYPE tlsgate_{counter}_total counter" in text, counter
        assert metric(m, f"tlsgate_{counter}_total") == 0, counter
    wait_gauge(gw, "handshakes_in_progress", 0)


def test_check_names_the_line_of_a_bad_admission_rule(tlsgate_bin, pki, tmp_path):
    gw = Gateway(tlsgate_bin, tmp_path / "check", pki, extra_yaml=(
        "admission:\n  rules:\n    - source: 127.0.0.3\n      action: deny\n      per: sni\n"))
    gw.write_files()
    p = subprocess.run([tlsgate_bin, "-c", str(gw.yaml_path), "--check"],
                       capture_output=True, text=True, timeout=scaled(30))
    assert p.returncode != 0, p.stdout + p.stderr
    line = yaml_line(gw, "per: sni")
    assert re.search(rf"tlsgate\.yaml:{line}: .*per is for action: limit", p.stderr), p.stderr
    assert "configuration OK" not in p.stdout + p.stderr
