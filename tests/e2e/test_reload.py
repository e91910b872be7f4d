"""S16 reload (SIGHUP): a new snapshot for new connections, the old one for connections in
flight, listeners opened and closed, a failed reload keeps everything as it was."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import LISTENING_RE, scaled
from pki import run_openssl
from tlsclient import HOST, client_context, http_get, inspect, refused, s_client, tls_connect
from upstreams import TcpServer, echo_handler

H2LOAD = "/usr/bin/h2load"
OK_RE = re.compile(r"^tlsgate: reload ok \((\d+) ms\)$")


def renew(pki, workdir: Path, name: str, cn: str) -> int:
    """Replaces <name>.crt/.key in `workdir` by a new EC certificate for `cn` signed by the
    test CA; returns its serial."""
    serial = secrets.randbits(62) + 1
    run_openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", str(workdir / f"{name}.key.new"), "-subj", f"/CN={cn}",
                "-addext", f"subjectAltName=DNS:{cn}", "-CA", str(pki.ca),
                "-CAkey", str(pki.key("ca")), "-set_serial", str(serial), "-days", "2",
                "-out", str(workdir / f"{name}.crt.new"))
    # Renamed into place, as a deployment tool would: a reload never sees half a file.
    (workdir / f"{name}.key.new").rename(workdir / f"{name}.key")
    (workdir / f"{name}.crt.new").rename(workdir / f"{name}.crt")
    return serial


def served_serial(port: int, sni: str) -> int:
    out = s_client(port, sni=sni)
    assert out.handshake_ok, out.out
    text = run_openssl("x509", "-noout", "-serial", input=out.certs_pem[0].encode())
    return int(text.strip().split("=", 1)[1], 16)


def assert_ok(line: str) -> None:
    assert OK_RE.match(line), line


def ports_opened_after(gw, start: int) -> list[int]:
    with gw._cond:
        return [int(m.group("port")) for l in gw.lines[start:] if (m := LISTENING_RE.match(l))]


def test_reload_swaps_certificate(gateway, pki):
    """S16: after a renewed certificate and SIGHUP, the next handshake serves the new one."""
    gw = gateway()
    before = served_serial(gw.port, "a.test")
    serial = renew(pki, gw.dir, "a", "a.test")
    assert serial != before
    assert_ok(gw.reload())
    assert served_serial(gw.port, "a.test") == serial


def test_failed_reload_keeps_old_certificate(gateway, pki):
    """S16: a broken certificate file fails the reload with file:line: problem; the old
    certificate is still served, and a later good reload applies."""
    gw = gateway()
    before = served_serial(gw.port, "a.test")
    (gw.dir / "a.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    line = gw.reload()
    assert re.match(r"^tlsgate: warning: reload failed: \S+/ssl_multicert\.config:1: ", line), \
        line
    assert "a.crt" in line, line
    assert served_serial(gw.port, "a.test") == before
    assert gw.alive()
    serial = renew(pki, gw.dir, "a", "a.test")
    assert_ok(gw.reload())
    assert served_serial(gw.port, "a.test") == serial


def test_failed_reload_bad_yaml_names_line(gateway, pki):
    """S16: an error in tlsgate.yaml fails the reload with its line; serving goes on."""
    gw = gateway()
    gw.yaml_path.write_text(gw.yaml_text() + "bogus_key: 1\n")
    line = gw.reload()
    assert re.search(r"reload failed: \S+/tlsgate\.yaml:\d+: unknown key 'bogus_key'", line), line
    assert inspect(gw.port, client_context(pki.ca), "a.test").status == 200


def handshake_loop(port: int, ctx, stop: threading.Event, results: dict, lock) -> None:
    """Fresh TLS connections, one request each, until `stop`."""
    while not stop.is_set():
        try:
            r = inspect(port, ctx, "a.test", timeout=scaled(10))
            ok = r.status == 200
            err = None if ok else f"status {r.status}"
        except Exception as e:  # every failure is reported
            ok, err = False, repr(e)
        with lock:
            results["ok" if ok else "failed"] += 1
            if err:
                results["errors"].append(err)


def h2load_loop(port: int, stop: threading.Event, results: dict, lock) -> None:
    """Short h2load runs: each run opens 10 new TLS connections."""
    while not stop.is_set():
        p = subprocess.run([H2LOAD, "--h1", "-n", "20", "-c", "10", f"https://{HOST}:{port}/"],
                           capture_output=True, text=True, timeout=scaled(60))
        m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored", p.stdout)
        with lock:
            if p.returncode != 0 or not m or m.group(3) != "20":
                results["h2load_failed"] += 1
                results["errors"].append(p.stdout[-800:] + p.stderr[-400:])
            else:
                results["h2load_runs"] += 1


def test_no_handshake_fails_across_reloads(gateway, pki):
    """S16: new handshakes on a kept listener never fail while 20 reloads happen (Python
    clients and h2load runs, a new TLS connection each)."""
    if not shutil.which(H2LOAD):
        pytest.skip("h2load (nghttp2-client) not installed")
    gw = gateway()
    ctx = client_context(pki.ca)
    stop = threading.Event()
    lock = threading.Lock()
    results = {"ok": 0, "failed": 0, "errors": [], "h2load_runs": 0, "h2load_failed": 0}
    threads = [threading.Thread(target=handshake_loop, args=(gw.port, ctx, stop, results, lock))
               for _ in range(3)]
    threads.append(threading.Thread(target=h2load_loop, args=(gw.port, stop, results, lock)))
    for t in threads:
        t.start()
    try:
        for i in range(20):
            if i % 2:
                renew(pki, gw.dir, "b", "b.test")  # half the reloads change something
            assert_ok(gw.reload())
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(scaled(60))
    assert results["failed"] == 0 and results["h2load_failed"] == 0, results["errors"][:5]
    assert results["ok"] > 20 and results["h2load_runs"] >= 1, results
    assert gw.stats()["ssl_total_success_handshake_count_in"] >= results["ok"]


def test_listener_added_and_removed(gateway, pki):
    """S16: a listener added to tlsgate.yaml accepts after the reload; removed, it refuses;
    the kept one keeps its port throughout."""
    gw = gateway()
    ctx = client_context(pki.ca)
    with gw._cond:
        start = len(gw.lines)
    gw.listeners = ["127.0.0.1:0", "127.0.0.1:0"]
    gw.yaml_path.write_text(gw.yaml_text())
    assert_ok(gw.reload())
    added = ports_opened_after(gw, start)
    assert len(added) == 1 and added[0] != gw.port, gw.stderr_text()
    assert inspect(added[0], ctx, "a.test").status == 200
    assert inspect(gw.port, ctx, "a.test").status == 200

    gw.listeners = ["127.0.0.1:0"]
    gw.yaml_path.write_text(gw.yaml_text())
    assert_ok(gw.reload())
    assert gw.wait_line(rf"no longer listening on 127\.0\.0\.1:{added[0]}$", start)
    assert refused(added[0])
    assert inspect(gw.port, ctx, "a.test").status == 200


def test_listener_that_cannot_bind_fails_reload(gateway, pki):
    """S16: a new listener whose address is taken fails the whole reload, naming
    tlsgate.yaml and the listener's line; the old listeners and certificate stay."""
    gw = gateway()
    before = served_serial(gw.port, "a.test")
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # no SO_REUSEPORT: exclusive
    taken.bind((HOST, 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        gw.listeners = ["127.0.0.1:0", f"127.0.0.1:{port}"]
        gw.yaml_path.write_text(gw.yaml_text())
        renew(pki, gw.dir, "a", "a.test")
        line = gw.reload()
        assert re.search(r"reload failed: \S+/tlsgate\.yaml:4: ", line), line
        assert served_serial(gw.port, "a.test") == before
    finally:
        taken.close()


def test_connection_keeps_its_snapshot(gateway, pki):
    """S16: a relayed connection opened before a reload that moves the route keeps relaying
    to its upstream; a new connection goes to the new one."""
    with TcpServer(echo_handler) as old_up, TcpServer(echo_handler) as new_up:
        gw = gateway(route=old_up.address)
        ctx = client_context(pki.ca)
        with tls_connect(gw.port, ctx, "a.test") as s:
            s.sendall(b"before\n")
            assert s.recv(100) == b"before\n"
            gw.route = new_up.address
            gw.yaml_path.write_text(gw.yaml_text())
            assert_ok(gw.reload())
            s.sendall(b"after\n")
            assert s.recv(100) == b"after\n"
            with tls_connect(gw.port, ctx, "a.test") as s2:
                s2.sendall(b"new\n")
                assert s2.recv(100) == b"new\n"
        assert old_up.wait_finished(1, scaled(5)) and new_up.wait_finished(1, scaled(5))
        assert len(old_up.records) == 1 and len(new_up.records) == 1
        assert old_up.records[0]["received"] == len(b"before\nafter\n")


def test_restart_only_key_warns(gateway, pki):
    """S16: threads cannot change at runtime: the reload says so and applies the rest."""
    gw = gateway(threads=2)
    gw.threads = 3
    gw.yaml_path.write_text(gw.yaml_text())
    serial = renew(pki, gw.dir, "a", "a.test")
    with gw._cond:
        start = len(gw.lines)
    assert_ok(gw.reload())
    assert gw.wait_line(r"^tlsgate: warning: threads changed: takes effect at restart$", start)
    assert served_serial(gw.port, "a.test") == serial


def test_kept_listener_takes_new_options(gateway, pki):
    """S16: a kept listener (same address and transparent) keeps its port and takes the
    options of its new place in the file: moved from first to second and switched to
    proxy_protocol, a PROXY header's client address is what builtin:inspect reports."""
    gw = gateway()
    ctx = client_context(pki.ca)
    assert inspect(gw.port, ctx, "a.test").json["client"].startswith("127.0.0.1:")
    gw.listeners = ["127.0.0.2:0", {"listen": "127.0.0.1:0", "proxy_protocol": True,
                                    "proxy_protocol_from": ["127.0.0.1"]}]
    gw.yaml_path.write_text(gw.yaml_text())
    assert_ok(gw.reload())
    raw = socket.create_connection((HOST, gw.port), timeout=scaled(10))
    raw.sendall(b"PROXY TCP4 192.0.2.7 192.0.2.10 5555 8443\r\n")
    with ctx.wrap_socket(raw, server_hostname="a.test") as s:
        status, _, body = http_get(s, "a.test", close=True)
    assert status == 200, body
    assert json.loads(body)["client"] == "192.0.2.7:5555", body
