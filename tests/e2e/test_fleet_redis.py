"""Ticket keys shared by a fleet through Redis (ssl.server.ticket_key.redis): a session
from one instance resumes on another; another key prefix is another fleet; with Redis
stopped the instances keep resuming each other's sessions with the keys they have, and when
Redis comes back (empty, as after a restart without persistence) they catch up and rotate
together again. Each test starts its own redis-server on a free loopback port, in a
temporary folder, with persistence off."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port, scaled
from test_session_resumption import VERSIONS, full_then_resume, resumed, s_client


class RedisServer:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.dir.mkdir()
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "log")])
        deadline = time.monotonic() + scaled(20)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=scaled(20))


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def fleet_yaml(redis: RedisServer, prefix: str = "tlsgate:stek:", rotation: int = 3600) -> str:
    return ("server:\n"
            "  ticket_key:\n"
            f"    rotation: {rotation}\n"
            f"    redis: {{address: '127.0.0.1:{redis.port}', key_prefix: '{prefix}',"
            " poll_interval: 0.1}\n"
            "  session:\n"
            "    timeout: 60\n")


def resumes(port_from: int, port_to: int, version: str, tmp: Path) -> bool:
    first, second = full_then_resume(port_from, "a.test", version, tmp, resume_port=port_to)
    assert not resumed(first)
    return resumed(second)


def instance(gateway, redis, **kwargs):
    return gateway(threads=1, extra_ssl_yaml=fleet_yaml(redis, **kwargs))


@pytest.mark.parametrize("version", VERSIONS)
def test_resumed_on_a_second_instance_sharing_keys_through_redis(gateway, redis, tmp_path,
                                                                 version):
    a, b = instance(gateway, redis), instance(gateway, redis)
    assert resumes(a.port, b.port, version, tmp_path)
    assert resumes(b.port, a.port, version, tmp_path)
    stats = b.wait_stats(lambda s: s["ssl_ticket_verified"] >= 1)
    assert stats["ssl_ticket_verified"] >= 1
    assert stats["ssl_ticket_key_redis_failures"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_another_key_prefix_is_another_fleet(gateway, redis, tmp_path, version):
    a = instance(gateway, redis)
    other = instance(gateway, redis, prefix="other-fleet:")
    assert not resumes(a.port, other.port, version, tmp_path)


def outage_warnings(gw) -> int:
    return sum(1 for line in gw.stderr_text(last=10000).splitlines()
               if "ticket keys: Redis" in line and "keeping the" in line)


def test_redis_outage_keeps_resumption_and_recovery_catches_up(gateway, redis, tmp_path):
    rotation = 2
    a, b = instance(gateway, redis, rotation=rotation), instance(gateway, redis, rotation=rotation)
    for v in VERSIONS:
        assert resumes(a.port, b.port, v, tmp_path)
    # A session issued before the outage, offered after Redis comes back.
    in_flight = tmp_path / "in-flight.pem"
    s_client(a.port, "a.test", "-tls1_3", "-sess_out", str(in_flight))

    redis.stop()
    for gw in (a, b):
        s = gw.wait_stats(lambda s: s["ssl_ticket_key_redis_failures"] >= 3, timeout=20)
        assert s["ssl_ticket_key_redis_failures"] >= 3
    # Longer than a rotation without Redis: the key written ahead of time activates on both.
    deadline = time.monotonic() + rotation * 2
    while time.monotonic() < deadline:
        for v in VERSIONS:
            assert resumes(a.port, b.port, v, tmp_path)
            assert resumes(b.port, a.port, v, tmp_path)
    assert outage_warnings(a) == 1, a.stderr_text()
    assert outage_warnings(b) == 1, b.stderr_text()

    redis.start()  # same port, empty
    refreshes = {}
    for gw in (a, b):
        deadline = time.monotonic() + scaled(20)
        while "answers again" not in gw.stderr_text(last=10000):
            assert time.monotonic() < deadline, gw.stderr_text()
            time.sleep(0.05)
        refreshes[gw] = gw.stats()["ssl_ticket_key_redis_refreshes"]
    assert resumed(s_client(b.port, "a.test", "-tls1_3", "-sess_in", str(in_flight)))
    # A rotation after the recovery reaches both (each counts the ring changing)...
    for gw in (a, b):
        s = gw.wait_stats(lambda s: s["ssl_ticket_key_redis_refreshes"] >= refreshes[gw] + 2,
                          timeout=rotation * 5)
        assert s["ssl_ticket_key_redis_refreshes"] >= refreshes[gw] + 2
    # ...and sessions cross between them again.
    for v in VERSIONS:
        assert resumes(a.port, b.port, v, tmp_path)
        assert resumes(b.port, a.port, v, tmp_path)
    assert outage_warnings(a) == 1 and outage_warnings(b) == 1


def test_password_file_is_sent_and_its_problems_are_config_errors(gateway, tmp_path):
    """AUTH with password_file's first line; a missing file stops the start (--check)
    naming tlsgate.yaml and the line."""
    redis = RedisServer(tmp_path / "redis-auth")
    redis.start()
    try:
        with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as s:
            s.sendall(b"CONFIG SET requirepass s3cret\r\n")
            assert s.recv(64).startswith(b"+OK")
        yaml = fleet_yaml(redis).replace("poll_interval: 0.1}",
                                         "poll_interval: 0.1, password_file: redis.pass}")
        a = gateway(extra_ssl_yaml=yaml, files={"redis.pass": "s3cret\n"})
        b = gateway(extra_ssl_yaml=yaml, files={"redis.pass": "s3cret\n"})
        assert resumes(a.port, b.port, "-tls1_3", tmp_path)
        assert a.stats()["ssl_ticket_key_redis_failures"] == 0

        broken = gateway._new(extra_ssl_yaml=yaml)  # no redis.pass next to it
        broken.write_files()
        proc = subprocess.run([broken.binary, "-c", str(broken.yaml_path), "--check"],
                              capture_output=True, text=True, timeout=scaled(30))
        assert proc.returncode == 1
        assert f"{broken.yaml_path}:" in proc.stderr and "redis.pass: cannot read" in proc.stderr, \
            proc.stderr
    finally:
        redis.stop()
