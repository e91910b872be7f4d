"""The admin endpoint: /metrics after a known sequence of connections (exact values,
promtool-clean), /stats agreeing with it, /health, /certs, /debug, 404 and 405, and the
reload metrics (test_reload_*: they need app::Gateway's reload)."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

from admin_client import (TUNNEL_REPLY, admin_port, admin_yaml, garbage, get_json, metric, parse_metrics, request,
                          terminated, tunnel, tunnel_destination, tunnel_sni_yaml, unknown_sni,
                          wait_closed_total)
from conftest import Gateway, GatewayStartError
from pki import run_openssl


def sequence_gateway(gateway, dest_port: int):
    return gateway(extra_yaml=admin_yaml("sni: sni.yaml\n"),
                   files={"sni.yaml": tunnel_sni_yaml(dest_port)})


def run_sequence(gw, pki) -> tuple[bytes, list[str]]:
    """3 terminated handshakes, 2 with an unknown SNI, 1 failed handshake, 1 tunnel.
    Returns the tunnel's ClientHello and the ciphers the clients negotiated."""
    results = [terminated(gw, pki) for _ in range(3)] + [unknown_sni(gw, pki) for _ in range(2)]
    assert all(r.status == 200 for r in results)
    garbage(gw)
    hello = tunnel(gw)
    wait_closed_total(gw, 7)
    return hello, [r.cipher for r in results]


def test_metrics_after_a_known_sequence_are_exact_and_promtool_clean(gateway, pki):
    with tunnel_destination() as dest:
        gw = sequence_gateway(gateway, dest.port)
        hello, negotiated = run_sequence(gw, pki)
    status, headers, text = request(gw, "GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert check.stdout.decode().strip() == "" and check.stderr.decode().strip() == ""

    m = parse_metrics(text)
    listener = f"127.0.0.1:{gw.port}"
    assert metric(m, "tlsgate_ssl_total_success_handshake_count_in_total") == 5
    assert metric(m, "tlsgate_connections_accepted_total") == 7
    assert metric(m, "tlsgate_connections_active") == 0
    assert metric(m, "tlsgate_ssl_sni_miss_total") == 2
    assert metric(m, "tlsgate_ssl_error_ssl_total") == 1
    assert metric(m, "tlsgate_sni_tunnels_total") == 1
    assert metric(m, "tlsgate_ssl_handshake_duration_seconds_count") == 5
    assert metric(m, "tlsgate_ssl_handshake_duration_seconds_bucket", le="+Inf") == 5
    assert metric(m, "tlsgate_ssl_handshake_duration_seconds_sum") > 0
    assert metric(m, "tlsgate_ssl_handshakes_by_version_total", version="TLSv1.3") == 5
    assert metric(m, "tlsgate_ssl_handshakes_by_version_total", version="TLSv1.2") == 0
    ciphers = {dict(k[1])["cipher"]: v for k, v in m.items()
               if k[0] == "tlsgate_ssl_handshakes_by_cipher_total"}
    expected = {c: float(negotiated.count(c)) for c in negotiated}
    assert {c: v for c, v in ciphers.items() if v} == expected, ciphers
    assert metric(m, "tlsgate_listener_connections_accepted_total", listener=listener) == 7
    assert metric(m, "tlsgate_listener_connections_active", listener=listener) == 0
    closed = {o: metric(m, "tlsgate_listener_connections_closed_total", listener=listener,
                        outcome=o)
              for o in ("terminated", "forward", "partial_blind", "tunnel", "error")}
    assert closed == {"terminated": 5, "forward": 0, "partial_blind": 0, "tunnel": 1,
                      "error": 1}
    # The tunnel's bytes (the ClientHello, the reply) and inspect's plaintext: 5 requests
    # (tlsclient.http_get's) and their answers, whose size the client does not keep.
    requests = sum(len(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                   for host in ["a.test"] * 3 + ["unknown.test"] * 2)
    assert metric(m, "tlsgate_listener_received_bytes_total",
                  listener=listener) == len(hello) + requests
    assert metric(m, "tlsgate_listener_sent_bytes_total",
                  listener=listener) > len(TUNNEL_REPLY) + 5 * len("HTTP/1.1 200 OK\r\n")
    assert metric(m, "tlsgate_reloads_total") == 0
    assert metric(m, "tlsgate_certificate_expiry_seconds",
                  file=str(gw.dir / "a.crt"), subject="CN=a.test") > 29 * 86400


def test_stats_is_json_and_agrees_with_metrics(gateway, pki):
    with tunnel_destination() as dest:
        gw = sequence_gateway(gateway, dest.port)
        run_sequence(gw, pki)
    stats = get_json(gw, "/stats")
    m = parse_metrics(request(gw, "GET", "/metrics")[2])
    for name, value in stats["counters"].items():
        if name in ("connections_active", "handshakes_in_progress", "shedding_workers",
                    "ssl_cert_directory_entries"):
            assert metric(m, f"tlsgate_{name}") == value, name  # gauges
        elif name.endswith("_us"):
            prom = metric(m, f"tlsgate_{name[:-3]}_seconds_total")
            assert abs(prom - value / 1e6) < 1e-9, name
        else:
            assert metric(m, f"tlsgate_{name}_total") == value, name
    assert stats["counters"]["ssl_total_success_handshake_count_in"] == 5
    hist = stats["handshake_duration_seconds"]
    assert hist["count"] == 5 == metric(m, "tlsgate_ssl_handshake_duration_seconds_count")
    for b in hist["buckets"]:
        le = "+Inf" if b["le"] == "+Inf" else repr(b["le"]).rstrip("0").rstrip(".")
        assert metric(m, "tlsgate_ssl_handshake_duration_seconds_bucket", le=le) == b["count"]
    assert stats["tls_versions"]["TLSv1.3"] == 5
    [listener] = stats["listeners"]
    assert listener["listener"] == f"127.0.0.1:{gw.port}"
    assert listener["accepted"] == 7 and listener["active"] == 0
    assert listener["closed"] == {"terminated": 5, "forward": 0, "partial_blind": 0,
                                  "tunnel": 1, "error": 1}


def test_health_reports_ok_and_the_reload_state(gateway):
    gw = gateway(extra_yaml=admin_yaml())
    status, headers, body = request(gw, "GET", "/health")
    assert status == 200 and headers["content-type"] == "application/json"
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["reload"]["last_ok"] is True and health["reload"]["attempts"] == 0


def not_after(path) -> datetime:
    out = run_openssl("x509", "-noout", "-enddate", "-in", str(path))
    text = out.strip().split("=", 1)[1]  # "Jun  1 12:00:00 2025 GMT"
    return datetime.strptime(text, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc)


def test_certs_lists_every_certificate_with_its_expiry(gateway):
    gw = gateway(extra_yaml=admin_yaml())
    certs = get_json(gw, "/certs")
    by_file = {c["file"]: c for c in certs["certificates"]}
    assert certs["multicert"] == str(gw.multicert_path)
    expected = ["a", "b", "wild", "dual-rsa", "dual-ec", "chain", "default"]
    assert sorted(by_file) == sorted(str(gw.dir / f"{n}.crt") for n in expected)
    a = by_file[str(gw.dir / "a.crt")]
    assert a["subject"] == "CN=a.test"
    assert a["names"] == ["a.test", "alias-a.test"]
    assert a["key_type"].startswith("RSA")
    assert by_file[str(gw.dir / "dual-ec.crt")]["key_type"].startswith("EC")
    assert a["multicert_line"] == 1 and by_file[str(gw.dir / "default.crt")]["default"]
    end = not_after(gw.dir / "a.crt")
    assert a["not_after"] == end.strftime("%Y-%m-%dT%H:%M:%SZ")
    left = (end - datetime.now(timezone.utc)).total_seconds()
    assert abs(a["seconds_left"] - left) < 120
    assert len(a["sha256"]) == 64


def test_debug_tags_switch_on_at_runtime(gateway, pki):
    gw = gateway(extra_yaml=admin_yaml())
    before = get_json(gw, "/debug")
    assert before["enabled"] == [] and "net" in before["available"]
    terminated(gw, pki)
    assert gw.debug_lines("net") == []
    status, _, body = request(gw, "POST", "/debug?tags=net%2Cssl.error")
    assert status == 200, body
    assert sorted(json.loads(body)["enabled"]) == ["net", "ssl.error"]
    terminated(gw, pki)
    deadline = time.monotonic() + 10
    while not gw.debug_lines("net") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("accepted" in l for l in gw.debug_lines("net")), gw.stderr_text()
    status, _, body = request(gw, "POST", "/debug?tags=")
    assert status == 200 and json.loads(body)["enabled"] == []


def test_unknown_paths_are_404_and_wrong_methods_405(gateway):
    gw = gateway(extra_yaml=admin_yaml())
    assert request(gw, "GET", "/nope")[0] == 404
    status, headers, _ = request(gw, "GET", "/reload")
    assert status == 405 and headers["allow"] == "POST"
    assert request(gw, "POST", "/metrics")[0] == 405
    assert request(gw, "DELETE", "/debug")[0] == 405
    assert request(gw, "POST", "/debug")[0] == 400  # no ?tags=


def test_admin_listen_in_use_is_a_startup_error_naming_the_line(gateway, tmp_path):
    gw = gateway(extra_yaml=admin_yaml())
    port = admin_port(gw)
    other = Gateway(gw.binary, tmp_path / "other", gw.pki,
                    extra_yaml=f"admin:\n  listen: 127.0.0.1:{port}\n")
    try:
        other.start()
        raise AssertionError("a second gateway started on a busy admin port")
    except GatewayStartError as e:
        assert "tlsgate.yaml:" in str(e) and "admin endpoint 127.0.0.1:" in str(e), str(e)
    finally:
        other.stop()


# --- reload (needs app::Gateway's reload; the lead runs these after the merge) ---------

def test_reload_success_and_failure_show_in_metrics_and_health(gateway):
    gw = gateway(extra_yaml=admin_yaml())
    status, _, body = request(gw, "POST", "/reload")
    assert status == 200, body
    assert json.loads(body)["ok"] is True and json.loads(body)["ms"] >= 0
    m = parse_metrics(request(gw, "GET", "/metrics")[2])
    assert metric(m, "tlsgate_reloads_total") == 1
    assert metric(m, "tlsgate_reload_failures_total") == 0
    assert metric(m, "tlsgate_last_reload_success") == 1
    assert metric(m, "tlsgate_last_reload_timestamp_seconds") > 0

    gw.multicert_path.write_text("ssl_cert_name=missing.crt ssl_key_name=missing.key\n")
    status, _, body = request(gw, "POST", "/reload")
    assert status in (422, 500), body
    error = json.loads(body)["error"]
    assert "ssl_multicert.config:1:" in error, error
    m = parse_metrics(request(gw, "GET", "/metrics")[2])
    assert metric(m, "tlsgate_reloads_total") == 2
    assert metric(m, "tlsgate_reload_failures_total") == 1
    assert metric(m, "tlsgate_last_reload_success") == 0
    # S16: the old configuration still serves, so the gateway is healthy; /health says why
    # the reload failed.
    status, _, body = request(gw, "GET", "/health")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["reload"]["last_ok"] is False
    assert "ssl_multicert.config:1:" in health["reload"]["last_error"]
