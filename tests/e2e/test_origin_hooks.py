"""OUTBOUND_START and VERIFY_SERVER (hooks towards origins) through the plugin ABI, with
hook_test: OUTBOUND_START can hold the connection and be re-enabled later from another
thread, or refuse the origin; VERIFY_SERVER runs on the verified leaf and can refuse it
even where the policy would let it through."""

from __future__ import annotations

import re

from origin_route import (PAYLOAD, assert_passed, assert_refused, origin, origin_gateway,
                          settled, visit, wait_line)
from origin_route import opki  # noqa: F401  (the session fixture)

ORIGIN = "origin.test"


def hook(plugin_dir, point: str, mode: str, name: str = "H", ms: int | None = None) -> dict:
    args = ["--name", name, "--hook", point, "--mode", mode]
    if ms is not None:
        args += ["--ms", str(ms)]
    return {"path": plugin_dir / "hook_test.so", "args": args}


def test_outbound_start_holds_then_resumes_from_another_thread(gateway, pki, opki, plugin_dir):
    """A delayed OUTBOUND_START: the origin handshake waits for the re-enable from the
    plugin's thread, then completes and the bytes flow."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address,
                            plugins=[hook(plugin_dir, "outbound_start", "delay", ms=300)])
        v = visit(gw, pki, ORIGIN)
        assert_passed(v, ORIGIN)
        assert v.echo == PAYLOAD
        assert wait_line(gw, "hook_test[H]: outbound_start")
        assert wait_line(gw, "hook_test[H]: outbound_start", "reenable from thread")
        s = settled(gw, ssl_total_success_handshake_count_out=1)
        assert s["ssl_hook_error"] == 0


def test_outbound_start_error_closes_the_client_cleanly(gateway, pki, opki, plugin_dir):
    """OUTBOUND_START re-enabled with an error: no handshake with the origin, the client
    gets a close_notify, ssl_hook_error counts."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address,
                            plugins=[hook(plugin_dir, "outbound_start", "error")])
        v = visit(gw, pki, ORIGIN)
        assert v.hello is None and v.end == "close_notify", v
        s = settled(gw, ssl_hook_error=1)
        assert s["ssl_total_success_handshake_count_out"] == 0
        assert not any(r.get("handshake") for r in o.records), o.records


def test_verify_server_sees_the_leaf_and_accepts(gateway, pki, opki, plugin_dir):
    """VERIFY_SERVER runs once per origin handshake, with the client's SNI readable, and
    its re-enable lets the connection through."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address,
                            plugins=[hook(plugin_dir, "verify_server", "immediate")])
        assert_passed(visit(gw, pki, ORIGIN), ORIGIN)
        lines = wait_line(gw, "hook_test[H]: verify_server")
        assert len(lines) == 1, lines
        assert re.search(r"sni=origin\.test", lines[0]), lines[0]


def test_verify_server_error_refuses_even_a_valid_origin(gateway, pki, opki, plugin_dir):
    """A VERIFY_SERVER hook that re-enables with an error fails the origin handshake, even
    though the policy accepted the certificate: the client gets a close_notify."""
    with origin(opki, "valid") as o:
        gw = origin_gateway(gateway, opki, o.address,
                            plugins=[hook(plugin_dir, "verify_server", "error")])
        assert_refused(visit(gw, pki, ORIGIN), o)
        s = settled(gw, ssl_hook_error=1)
        assert s["ssl_total_success_handshake_count_out"] == 0
        assert s["ssl_origin_verify_failure"] == 0, "the policy itself did not fail"


def test_verify_server_can_be_stricter_than_permissive(gateway, pki, opki, plugin_dir):
    """Under PERMISSIVE an expired origin gets through — unless a VERIFY_SERVER hook says
    no; the policy's failure is still counted."""
    with origin(opki, "expired") as o:
        gw = origin_gateway(gateway, opki, o.address,
                            client={"verify_server_policy": "PERMISSIVE"},
                            plugins=[hook(plugin_dir, "verify_server", "terminate")])
        assert_refused(visit(gw, pki, ORIGIN), o)
        s = settled(gw, ssl_hook_error=1)
        assert s["ssl_origin_verify_expired"] == 1
