"""The certificate store through the admin endpoint (issue 19, README "Admin endpoint" and
"Metrics"): /certs a page at a time and by name, the store's gauges and the parsed
certificate cache in /metrics, the store in /health, and a partial reload
(ssl.multicert_partial_reload) that skips a bad entry and says so.

The many certificates are signed at test time by the test CA (many_certs.py). Nothing is
timed; counters that a handshake moves are polled with generous deadlines."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from admin_client import admin_yaml, get_json, metric, parse_metrics, request
from conftest import scaled
from many_certs import issue_many
from tlsclient import client_context, tls_connect

DEFAULT_LINE = "dest_ip=* ssl_cert_name=default.crt ssl_key_name=default.key"
PAGE_ENTRIES = 250
LARGE_ENTRIES = 1001  # above the 1,000 entries that still get a series per certificate


def name(i: int) -> str:
    return f"n{i}.many.test"


@pytest.fixture(scope="module")
def many(tmp_path_factory, pki):
    """LARGE_ENTRIES certificates valid 30 days, plus soon.many.test (3 days left) and
    old.many.test (expired a day ago): (folder, {name: sha256})."""
    folder = tmp_path_factory.mktemp("many")
    names = [name(i) for i in range(LARGE_ENTRIES)] + ["soon.many.test", "old.many.test"]
    prints = issue_many(pki, folder, names,
                        valid_days={"soon.many.test": 3, "old.many.test": -1})
    return folder, prints


def lines_for(folder, names: list[str]) -> list[str]:
    return [f"ssl_cert_name={folder / n}.pem" for n in names] + [DEFAULT_LINE]


def metrics(gw) -> dict:
    status, _, text = request(gw, "GET", "/metrics")
    assert status == 200
    return parse_metrics(text)


def served(gw, pki, sni: str) -> str:
    """The SHA-256 of the certificate served for `sni` (the name not checked)."""
    with tls_connect(gw.port, client_context(pki.ca, check_hostname=False), sni) as s:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


# --- /certs: pages and names -----------------------------------------------------------

def test_certs_pages_through_a_large_store_in_file_order(gateway, many):
    folder, _ = many
    gw = gateway(extra_yaml=admin_yaml(),
                 multicert=lines_for(folder, [name(i) for i in range(PAGE_ENTRIES)]))
    total = PAGE_ENTRIES + 1
    first = get_json(gw, "/certs")
    assert (first["total"], first["offset"], first["limit"], first["next"]) == (total, 0, 100,
                                                                                 100)
    assert len(first["certificates"]) == 100 and first["managed"] == []
    lines, offset = [], 0
    while offset is not None:
        page = get_json(gw, f"/certs?offset={offset}&limit=100")
        assert page["offset"] == offset and page["total"] == total
        lines += [c["multicert_line"] for c in page["certificates"]]
        offset = page["next"]
    assert lines == list(range(1, total + 1))  # every entry once, in file order
    assert [c["default"] for c in page["certificates"]][-1] is True
    everything = get_json(gw, "/certs?limit=1000")
    assert len(everything["certificates"]) == total and everything["next"] is None
    one = get_json(gw, "/certs?offset=7&limit=1")
    assert one["next"] == 8 and [c["names"] for c in one["certificates"]] == [[name(7)]]
    past = get_json(gw, f"/certs?offset={total}")
    assert past["certificates"] == [] and past["next"] is None and past["total"] == total


BAD_QUERIES = [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
    ("offset=-1", "offset"), ("offset=1.5", "offset"), ("ofset=5", "ofset"),
    ("limit=5&limit=6", "limit"), ("name=", "name"), ("name=a.test&limit=5", "name"),
]


def test_certs_refuses_bad_parameters_naming_them(gateway):
    gw = gateway(extra_yaml=admin_yaml())
    for query, parameter in BAD_QUERIES:
        status, _, body = request(gw, "GET", f"/certs?{query}")
        assert status == 400, (query, body)
        answer = json.loads(body)
        assert answer["parameter"] == parameter, (query, answer)
        assert answer["error"].startswith(parameter + ": "), (query, answer)


def test_certs_name_finds_the_entry_that_serves_it(gateway):
    gw = gateway(extra_yaml=admin_yaml())

    def files(sni):
        answer = get_json(gw, f"/certs?name={sni}")
        assert answer["name"] == sni.lower() and answer["total"] == 6
        return answer["match"], sorted(c["file"].rsplit("/", 1)[-1]
                                        for c in answer["certificates"])

    assert files("a.test") == ("exact", ["a.crt"])
    assert files("ALIAS-A.test") == ("exact", ["a.crt"])
    assert files("x.wild.test") == ("wildcard", ["wild.crt"])
    assert files("dual.test") == ("exact", ["dual-ec.crt", "dual-rsa.crt"])
    # A wildcard covers one label; the default is not a name match.
    assert files("a.b.wild.test") == (None, [])
    assert files("default.test") == ("exact", ["default.crt"])
    assert files("unknown.test") == (None, [])


# --- /metrics ------------------------------------------------------------------------

def wait_metric(gw, name: str, predicate, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = metric(metrics(gw), name)
        if predicate(value) or time.monotonic() > deadline:
            assert predicate(value), (name, value)
            return value
        time.sleep(0.05)


def test_metrics_show_the_store_and_the_parsed_certificate_cache(gateway, pki, many):
    folder, prints = many
    names = [name(i) for i in range(PAGE_ENTRIES)]
    gw = gateway(extra_yaml=admin_yaml(), extra_ssl_yaml="cert_cache_size: 5000",
                 multicert=lines_for(folder, names))
    m = metrics(gw)
    entries = PAGE_ENTRIES + 1
    assert metric(m, "tlsgate_certificates_entries") == entries
    assert metric(m, "tlsgate_certificates_loaded") == entries
    assert metric(m, "tlsgate_certificates_skipped") == 0
    resident = metric(m, "tlsgate_certificates_resident_bytes")
    assert 0 < resident < 10 * 1024 * entries, resident
    assert metric(m, "tlsgate_certificates_load_seconds") >= 0
    assert metric(m, "tlsgate_certificate_cache_capacity") == 5000
    assert metric(m, "tlsgate_ssl_cert_files_read_total") >= entries
    assert metric(m, "tlsgate_certificates_expired") == 0
    assert metric(m, "tlsgate_certificates_expiring_soon") == 0
    soonest = metric(m, "tlsgate_certificates_expiring_soonest_seconds")
    assert 28 * 86400 < soonest <= 30 * 86400, soonest
    # A small store keeps its series per certificate.
    assert metric(m, "tlsgate_certificate_expiry_seconds", file=f"{folder / name(0)}.pem",
                  subject=f"CN={name(0)}") > 28 * 86400

    cached = metric(m, "tlsgate_certificate_cache_entries")
    hits = metric(m, "tlsgate_ssl_cert_cache_hits_total")
    misses = metric(m, "tlsgate_ssl_cert_cache_misses_total")
    distinct = names[10:15]
    for sni in distinct:  # parsed on the first handshake that serves it
        assert served(gw, pki, sni) == prints[sni]
    wait_metric(gw, "tlsgate_ssl_cert_cache_misses_total", lambda v: v == misses + 5)
    assert metric(metrics(gw), "tlsgate_certificate_cache_entries") == cached + 5
    for sni in distinct * 2:  # then served from the cache
        assert served(gw, pki, sni) == prints[sni]
    wait_metric(gw, "tlsgate_ssl_cert_cache_hits_total", lambda v: v == hits + 10)
    m = metrics(gw)
    assert metric(m, "tlsgate_certificate_cache_entries") == cached + 5
    assert metric(m, "tlsgate_ssl_cert_cache_misses_total") == misses + 5


def test_a_large_store_exports_an_expiry_summary_not_a_series_each(gateway, many):
    folder, _ = many
    names = [name(i) for i in range(LARGE_ENTRIES)] + ["soon.many.test", "old.many.test"]
    gw = gateway(extra_yaml=admin_yaml(), multicert=lines_for(folder, names))
    status, _, text = request(gw, "GET", "/metrics")
    assert status == 200
    m = parse_metrics(text)
    assert metric(m, "tlsgate_certificates_entries") == len(names) + 1
    assert "tlsgate_certificate_expiry_seconds{" not in text
    assert metric(m, "tlsgate_certificates_expired") == 1  # old.many.test
    assert metric(m, "tlsgate_certificates_expiring_soon") == 1  # soon.many.test
    soonest = metric(m, "tlsgate_certificates_expiring_soonest_seconds")
    assert -2 * 86400 < soonest < 0, soonest  # old.many.test, a day ago
    stats = get_json(gw, "/stats")
    store = stats["certificate_store"]
    assert store["per_certificate"] is False and stats["certificates"] == []
    assert (store["entries"], store["expired"], store["expiring_soon"]) == (len(names) + 1, 1, 1)
    # /certs still says how many are expired, over the whole store.
    assert get_json(gw, "/certs?limit=1")["expired"] == 1


# --- /health -------------------------------------------------------------------------

def test_health_shows_the_store_in_use(gateway):
    gw = gateway(extra_yaml=admin_yaml())
    health = get_json(gw, "/health")
    assert health["status"] == "ok" and health["degraded"] is None
    store = health["certificates"]
    # Six lines; the dual entry has two certificates.
    assert (store["entries"], store["loaded"], store["skipped"]) == (6, 7, 0), store
    assert store["resident_bytes"] > 0 and store["load_ms"] >= 0


# --- partial reload ------------------------------------------------------------------
# With ssl.multicert_partial_reload off (the default) the same bad entry fails the reload
# and the old snapshot serves: test_config_limits.py::test_reload_refuses_key_of_other_type.

BAD_ENTRIES = {
    "key-mismatch": ("ssl_cert_name=b.crt ssl_key_name=a.key", "private key does not match"),
    "missing-file": ("ssl_cert_name=missing.crt ssl_key_name=missing.key", "missing.crt"),
}
GOOD = ["ssl_cert_name=a.crt ssl_key_name=a.key", "ssl_cert_name=b.crt ssl_key_name=b.key",
        DEFAULT_LINE]


def partial_gateway(gateway, multicert):
    return gateway(extra_yaml=admin_yaml(), extra_ssl_yaml="multicert_partial_reload: true",
                   multicert=multicert)


def assert_skipped(gw, skipped: int, entries: int) -> None:
    health = get_json(gw, "/health")
    assert health["status"] == "ok", health
    assert health["certificates"]["skipped"] == skipped, health
    assert health["certificates"]["entries"] == entries, health
    assert (health["degraded"] is None) == (skipped == 0), health
    m = metrics(gw)
    assert metric(m, "tlsgate_certificates_skipped") == skipped
    assert metric(m, "tlsgate_certificates_entries") == entries


@pytest.mark.parametrize("bad", sorted(BAD_ENTRIES))
def test_partial_reload_skips_a_bad_entry_and_serves_the_rest(gateway, pki, bad):
    line, problem = BAD_ENTRIES[bad]
    gw = partial_gateway(gateway, GOOD)
    assert served(gw, pki, "b.test") == pki.fingerprint("b")
    assert_skipped(gw, 0, 3)

    start = len(gw.lines)
    gw.multicert_path.write_text("\n".join([GOOD[0], line, DEFAULT_LINE]) + "\n")
    assert "reload ok" in gw.reload()
    warning = gw.wait_line(r"ssl_multicert\.config:2: .*\(entry skipped: "
                           r"ssl\.multicert_partial_reload\)", start)
    assert warning and problem in warning, gw.stderr_text()
    assert served(gw, pki, "a.test") == pki.fingerprint("a")
    assert served(gw, pki, "b.test") == pki.fingerprint("default")  # as if it had no entry
    assert_skipped(gw, 1, 2)
    assert get_json(gw, "/health")["reload"]["last_ok"] is True
    assert get_json(gw, "/certs")["total"] == 2

    gw.multicert_path.write_text("\n".join(GOOD) + "\n")  # fixed: nothing skipped any more
    assert "reload ok" in gw.reload()
    assert served(gw, pki, "b.test") == pki.fingerprint("b")
    assert_skipped(gw, 0, 3)


def test_partial_start_with_a_bad_entry_starts_and_reports_it(gateway, pki):
    gw = partial_gateway(gateway, [GOOD[0], BAD_ENTRIES["key-mismatch"][0], DEFAULT_LINE])
    assert gw.wait_line(r"ssl_multicert\.config:2: private key does not match .*\(entry "
                        r"skipped: ssl\.multicert_partial_reload\)"), gw.stderr_text()
    assert served(gw, pki, "a.test") == pki.fingerprint("a")
    assert served(gw, pki, "b.test") == pki.fingerprint("default")
    assert_skipped(gw, 1, 2)
