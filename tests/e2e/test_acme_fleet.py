"""The ACME client's fleet mode (acme.redis) against Debian's pebble and a real Redis: the
instance that did not order answers the CA's validation with the challenge it took from
Redis (tls-alpn-01 and http-01), every instance serves the certificate one of them
ordered, two instances starting at once place one order per certificate, and a Redis
outage after issuance changes nothing but acme_failures.

Two tlsgate instances listen on the ports pebble validates at (pebble.py), A on 127.0.0.1
and B on 127.0.0.2: pebble connects to the address its DNS (pebble-challtestsrv) gives for
the name, so `pebble.set_a(name, "127.0.0.2")` sends a name's validation to B. Each
instance has its own state_dir and account_key file, as two machines would.

Every wait polls with a generous deadline (90 s); a fixed sleep is used only to show that
something does NOT happen (no new order)."""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from pathlib import Path

from admin_client import admin_yaml, get_json
from conftest import free_port, scaled
from pebble import Pebble, pebble, pebble_factory  # noqa: F401  (fixtures)
from pki import run_openssl
from test_fleet_redis import RedisServer, redis  # noqa: F401  (fixture)
from tlsclient import SClient

WAIT = 90.0
A_HOST, B_HOST = "127.0.0.1", "127.0.0.2"
VALIDATIONS = {"tls-alpn-01": "acme_tls_alpn_validations",
               "http-01": "acme_http_validations"}


# -- configuration ---------------------------------------------------------------------

def fleet_acme_yaml(pebble: Pebble, redis: RedisServer, state: Path, host: str,
                    certificates: list[list[str]], prefix: str, challenges: list[str],
                    directory: str | None = None) -> str:
    """The acme: section of one instance: its own state_dir and account_key under `state`,
    its http-01 listener on `host`, the fleet's Redis and key prefix."""
    lines = [
        "acme:",
        f"  directory: {directory or pebble.directory_url}",
        f"  ca_file: {pebble.ca_bundle}",
        f"  account_key: {state / 'account.key'}",
        f"  state_dir: {state / 'acme-state'}",
        f"  challenges: [{', '.join(challenges)}]",
        f'  http_listener: {{address: "{host}:{pebble.http_port}", redirect_https: true}}',
        f'  redis: {{address: "127.0.0.1:{redis.port}", key_prefix: "{prefix}",'
        " poll_interval: 0.2}",
        "  certificates:",
    ] + [f"    - names: [{', '.join(names)}]" for names in certificates]
    return admin_yaml() + "\n".join(lines) + "\n"


def new_instance(gateway, pebble: Pebble, redis: RedisServer, tmp: Path, host: str,
                 certificates: list[list[str]], prefix: str,
                 challenges: list[str] | None = None, directory: str | None = None):
    """A Gateway (not started) with its TLS listener on host:<pebble's tls_port>."""
    state = tmp / f"instance-{host}"
    state.mkdir()
    yaml = fleet_acme_yaml(pebble, redis, state, host, certificates, prefix,
                           challenges or ["tls-alpn-01"], directory)
    gw = gateway._new(listeners=[f"{host}:{pebble.tls_port}"], extra_yaml=yaml)
    gateway.started.append(gw)  # stopped (and its exit code checked) at teardown
    gw.host = host
    return gw


def start_together(*gws) -> None:
    """Starts every instance at the same time, each in its own thread."""
    errors: list[BaseException] = []

    def start(gw):
        try:
            gw.start()
        except BaseException as e:  # re-raised below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=start, args=(gw,)) for gw in gws]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def unused_directory() -> str:
    """An ACME directory URL where nothing listens: the instance given it cannot reach
    the CA."""
    return f"https://127.0.0.1:{free_port()}/dir"


def fresh_prefix() -> str:
    return f"tlsgate:acme:e2e-{secrets.token_hex(4)}:"


# -- what the instances report -----------------------------------------------------------

def counters(gw) -> dict:
    return get_json(gw, "/stats")["counters"]


def issued_ids(gw) -> set[str]:
    """The ids (first names) of the acme /certs entries that hold a certificate."""
    body = get_json(gw, "/certs")
    lists = [v for v in body.values() if isinstance(v, list)] if isinstance(body, dict) \
        else [body]
    return {c["names"][0] for entries in lists for c in entries
            if isinstance(c, dict) and c.get("source") == "acme" and c.get("not_after")}


def wait_for(what: str, gws, check, timeout: float = WAIT):
    """Polls check() until it returns something true; fails naming `what`, with every
    instance's counters and log, after `timeout`."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        for gw in gws:
            assert gw.alive(), f"tlsgate exited while waiting for {what}:\n{gw.stderr_text()}"
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s\n{report(gws)}")
        time.sleep(0.2)


def report(gws) -> str:
    """Every instance's counters and log, for a failure's message."""
    return "\n".join(f"--- {gw.host}: counters {counters(gw)}; stderr:\n{gw.stderr_text()}"
                     for gw in gws)


def wait_all_issued(gws, certificates: list[list[str]]) -> None:
    ids = {names[0] for names in certificates}
    wait_for(f"certificates {sorted(ids)} on every instance", gws,
             lambda: all(ids <= issued_ids(gw) for gw in gws))


# -- what a client sees ------------------------------------------------------------------

def served_serial(gw, name: str, cafile: Path) -> str:
    """The serial of the leaf that gw serves for `name`, which must verify against
    `cafile` for that name (-verify_return_error: otherwise the handshake fails)."""
    p = subprocess.run(
        ["openssl", "s_client", "-connect", f"{gw.host}:{gw.port}", "-servername", name,
         "-verify_return_error", "-CAfile", str(cafile), "-verify_hostname", name],
        input=b"", capture_output=True, timeout=scaled(20))
    r = SClient(p.returncode, p.stdout.decode(errors="replace") + "\n"
                + p.stderr.decode(errors="replace"))
    assert r.handshake_ok and "Verify return code: 0 (ok)" in r.out, (gw.host, name, r.out)
    return run_openssl("x509", "-noout", "-serial",
                       input=r.certs_pem[0].encode()).strip()


def one_serial_everywhere(gws, names: list[str], roots: Path) -> str:
    """Every instance serves every name of one certificate the same leaf; its serial."""
    serials = {(gw.host, name): served_serial(gw, name, roots) for gw in gws for name in names}
    assert len(set(serials.values())) == 1, serials
    return next(iter(serials.values()))


# -- 1, 2: the CA validates against the instance that did not order ----------------------

def check_validated_by_the_other_instance(gateway, pebble, redis, tmp: Path,
                                          challenge: str) -> None:
    """Deterministically, B cannot order and pebble validates against B only:

    - B's directory is a URL where nothing listens. The manager asks Redis for the lease
      only after it has reached the CA (Manager::attempt: ensureClient, then tryLease), so
      B never takes the lease and never orders; A, whose directory is pebble, is the only
      possible orderer. B is otherwise a full fleet member: same Redis and prefix, same
      names, its own state_dir.
    - Both names resolve to 127.0.0.2 in pebble's DNS, before anything starts: every
      validation connection goes to B, which can answer only with the challenge A put in
      Redis (its tls-alpn-01 certificate, or its http-01 key authorization).

    So the certificate exists only if B answered from Redis, and B serves it only if it
    took it from Redis."""
    names = [f"{challenge}.fleet.acme.test", f"www.{challenge}.fleet.acme.test"]
    for name in names:
        pebble.set_a(name, B_HOST)
    prefix = fresh_prefix()
    b = new_instance(gateway, pebble, redis, tmp, B_HOST, [names], prefix, [challenge],
                     directory=unused_directory())
    a = new_instance(gateway, pebble, redis, tmp, A_HOST, [names], prefix, [challenge])
    b.start()
    a.start()
    wait_all_issued([a, b], [names])

    ca, cb = counters(a), counters(b)
    counter = VALIDATIONS[challenge]
    assert cb[counter] >= len(names), cb  # pebble asked B, once per name at least
    assert ca[counter] == 0, ca           # and never the orderer
    assert ca["acme_orders"] == 1 and ca["acme_orders_failed"] == 0, ca
    assert cb["acme_orders"] == 0, cb
    assert cb["acme_failures"] >= 1, cb   # B did try, and could not reach its CA
    roots = pebble.fetch_roots(tmp / "pebble-roots.pem")
    one_serial_everywhere([a, b], names, roots)
    assert pebble.orders_placed() == 1 and pebble.certificates_issued() == 1
    # B keeps the fleet's certificate in its own state_dir, for a restart without Redis.
    assert (tmp / f"instance-{B_HOST}" / "acme-state" / "certificates"
            / f"{names[0]}.pem").exists()


def test_tls_alpn_01_is_answered_by_the_instance_that_did_not_order(gateway, pebble, redis,
                                                                    tmp_path):
    check_validated_by_the_other_instance(gateway, pebble, redis, tmp_path, "tls-alpn-01")


def test_http_01_is_answered_by_the_instance_that_did_not_order(gateway, pebble, redis,
                                                                tmp_path):
    check_validated_by_the_other_instance(gateway, pebble, redis, tmp_path, "http-01")


# -- 3: one order per certificate when the fleet starts at once --------------------------

def test_two_instances_starting_at_once_place_one_order_per_certificate(gateway, pebble,
                                                                        redis, tmp_path):
    """Both instances reach pebble and start at the same moment, for two certificates;
    one name resolves to A, the other to B, so whichever instance orders a certificate,
    the validation of one of them may reach the other instance.

    Often each instance orders one certificate, in parallel; the one that finishes first
    then reaches the other certificate in the same pass and finds its lease free: it must
    find the certificate in Redis too (the lease is released only after the certificate
    is put there, and checked again under the lease), not order it a second time."""
    certificates = [["one.fleet.acme.test"], ["two.fleet.acme.test"]]
    pebble.set_a(certificates[1][0], B_HOST)
    prefix = fresh_prefix()
    a = new_instance(gateway, pebble, redis, tmp_path, A_HOST, certificates, prefix)
    b = new_instance(gateway, pebble, redis, tmp_path, B_HOST, certificates, prefix)
    start_together(a, b)
    wait_all_issued([a, b], certificates)

    roots = pebble.fetch_roots(tmp_path / "pebble-roots.pem")
    serials = {one_serial_everywhere([a, b], names, roots) for names in certificates}
    assert len(serials) == 2, serials
    ca, cb = counters(a), counters(b)
    assert ca["acme_orders"] + cb["acme_orders"] == 2, report([a, b])
    assert ca["acme_orders_failed"] == 0 and cb["acme_orders_failed"] == 0, report([a, b])
    assert pebble.orders_placed() == 2 and pebble.certificates_issued() == 2


# -- 4: a Redis outage after issuance ------------------------------------------------------

def test_a_redis_outage_after_issuance_keeps_both_serving_and_orders_nothing(
        gateway, pebble, redis, tmp_path):
    names = ["outage.fleet.acme.test"]
    prefix = fresh_prefix()
    a = new_instance(gateway, pebble, redis, tmp_path, A_HOST, [names], prefix)
    b = new_instance(gateway, pebble, redis, tmp_path, B_HOST, [names], prefix)
    start_together(a, b)
    wait_all_issued([a, b], [names])
    roots = pebble.fetch_roots(tmp_path / "pebble-roots.pem")
    issued = one_serial_everywhere([a, b], names, roots)
    assert pebble.orders_placed() == 1
    before = {gw.host: counters(gw) for gw in (a, b)}

    redis.stop()
    for gw in (a, b):  # each poll of Redis fails and counts
        wait_for(f"acme_failures on {gw.host}", [a, b],
                 lambda gw=gw: counters(gw)["acme_failures"]
                 >= before[gw.host]["acme_failures"] + 2)
    assert one_serial_everywhere([a, b], names, roots) == issued

    redis.start()  # same port, empty: no lease, no certificate, no account key
    for gw in (a, b):  # failures stop growing: the instance reaches Redis again
        wait_for(f"Redis answering {gw.host} again", [a, b],
                 lambda gw=gw: failures_steady(gw, scaled(3)))
    time.sleep(scaled(3))  # room for an order, that must not come
    assert one_serial_everywhere([a, b], names, roots) == issued
    assert pebble.orders_placed() == 1 and pebble.certificates_issued() == 1
    for gw in (a, b):
        c = counters(gw)
        assert c["acme_orders"] == before[gw.host]["acme_orders"], c
        assert c["acme_renewals"] == 0, c


def failures_steady(gw, seconds: float) -> bool:
    """acme_failures did not move for `seconds` (several polls of Redis)."""
    first = counters(gw)["acme_failures"]
    time.sleep(seconds)
    return counters(gw)["acme_failures"] == first
