"""ALPN endpoints registered by a plugin (S14), with plugins/alpn_endpoint: the protocol is
offered without being configured, connections that negotiate it go where the plugin says,
a refusal closes cleanly and counts, and a route of the configuration wins over the
plugin."""

from __future__ import annotations

import socket

from conftest import scaled
from tlsclient import client_context, inspect, tls_connect
from upstreams import TcpServer, tagged_echo_handler

PROTO = "acme-tls/1"


def plugin(plugin_dir, *args: str) -> dict:
    return {"path": plugin_dir / "alpn_endpoint.so", "args": ["--protocol", PROTO, *args]}


def exchange(port: int, pki, sni: str, alpn: list[str]) -> tuple[str | None, bytes]:
    """TLS with `alpn` offered; sends a line and returns (negotiated protocol, the first
    bytes that come back: the upstream's tag line)."""
    with tls_connect(port, client_context(pki.ca, alpn=alpn), sni, timeout=scaled(10)) as s:
        s.sendall(b"hello\n")
        answer = s.recv(65536)
        return s.selected_alpn_protocol(), answer


def test_plugin_endpoint_receives_its_protocol(gateway, pki, plugin_dir):
    """A client offering acme-tls/1 negotiates it (tlsgate offers it because the plugin
    registered it) and its plaintext reaches the plugin's target; an http/1.1 client gets
    no ALPN (only the plugin's protocol is offered) and lands on the default route."""
    with TcpServer(tagged_echo_handler("acme")) as acme:
        gw = gateway(plugins=[plugin(plugin_dir, "--to", acme.address)])
        proto, answer = exchange(gw.port, pki, "a.test", [PROTO])
        assert proto == PROTO
        assert answer.startswith(b"acme\n"), answer
        assert acme.wait_finished(1, scaled(5))
        result = inspect(gw.port, client_context(pki.ca, alpn=["http/1.1"]), "a.test")
        assert result.status == 200 and result.json["alpn"] is None


def test_plugin_endpoint_refusal_closes_and_counts(gateway, pki, plugin_dir):
    """When the plugin's function returns NULL the client gets a close_notify and
    no_endpoint counts; nothing is relayed."""
    with TcpServer(tagged_echo_handler("acme")) as acme:
        gw = gateway(plugins=[plugin(plugin_dir, "--to", acme.address, "--refuse", "a.test")])
        with tls_connect(gw.port, client_context(pki.ca, alpn=[PROTO]), "a.test",
                         timeout=scaled(10)) as s:
            assert s.selected_alpn_protocol() == PROTO
            assert s.recv(65536) == b""  # close_notify, nothing else
        s = gw.wait_stats(lambda s: s["no_endpoint"] >= 1)
        assert s["no_endpoint"] == 1
        assert acme.records == []


def test_configured_route_wins_over_the_plugin(gateway, pki, plugin_dir):
    """routes.alpn for the same protocol takes precedence over the plugin's endpoint."""
    with TcpServer(tagged_echo_handler("acme")) as acme, \
            TcpServer(tagged_echo_handler("configured")) as configured:
        gw = gateway(plugins=[plugin(plugin_dir, "--to", acme.address)],
                     routes_yaml=f"alpn:\n  {PROTO}: {configured.address}\n")
        proto, answer = exchange(gw.port, pki, "a.test", [PROTO])
        assert proto == PROTO
        assert answer.startswith(b"configured\n"), answer
        assert acme.records == []
