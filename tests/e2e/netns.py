"""A TPROXY test bed for transparent listeners (S5, S9, S11): three network namespaces.

    client ns                    gw ns                          origin ns
    to_gw 10.N.0.1  <-veth->  to_client 10.N.0.2
                              to_origin 10.N.1.1  <-veth->  to_gw 10.N.1.2

The client and the origin route everything through gw, which forwards (ip_forward=1) and
diverts every TCP segment arriving from the client to one local port, the kernel's
tproxy.rst recipe:

    iptables -t mangle -A PREROUTING -i to_client -p tcp \\
        -j TPROXY --on-ip 0.0.0.0 --on-port PORT --tproxy-mark 0x1/0x1
    ip rule add fwmark 0x1/0x1 lookup 100
    ip route add local 0.0.0.0/0 dev lo table 100

A socket listening on PORT in gw with IP_TRANSPARENT then accepts the client's connection
to ANY address, and getsockname() of the accepted socket is the address the client asked
for (the original destination).

Everything lives inside the three namespaces: the veths are created from inside them
(`ip -n NS link add ... peer ... netns NS2`), so nothing touches the root namespace, and
deleting the namespaces removes the links, addresses, routes, rules and iptables rules
with them. Namespace names carry the pid (parallel ctest jobs: the build, ASan and TSan
trees run the same file at the same time); the subnet is derived from the pid too, though
it cannot collide anyway (each namespace has its own routing). The port is fixed for the
same reason: it is a port of the gw namespace only.

If the kernel or the permissions refuse a step, the bed calls pytest.skip with the command
and its stderr: such a run proves nothing, so it must not pass.

In-process sockets: `bed.entered(ns)` switches the calling thread (only it) into a
namespace with setns(2); sockets created there stay in that namespace afterwards, so the
tests run their clients and origin servers as Python threads (`NsServer`) and the gateway
as a process (`bed.wrapper(ns)` = ["nsenter", "--net=/run/netns/NAME"]).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from upstreams import TcpServer

IP_TRANSPARENT = 19  # <linux/in.h>; Python's socket module has no name for it
CLONE_NEWNET = 0x40000000
GW_PORT = 18443      # the TPROXY target port, inside the gw namespace only
ROUTE_TABLE = 100
MARK = "0x1/0x1"

_libc = ctypes.CDLL(None, use_errno=True)
_serial = itertools.count(1)


class BedError(Exception):
    """A set-up step failed: the kernel or the permissions refused it."""


def _run(cmd: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns(CLONE_NEWNET): {os.strerror(e)}")


class TproxyBed:
    """The three namespaces and their plumbing; a context manager (build / tear down).

    Attributes: client, gw, origin (namespace names); client_ip, gw_client_ip,
    gw_origin_ip, origin_ip (addresses); port (the TPROXY target port in gw).
    """

    def __init__(self, port: int = GW_PORT):
        pid = os.getpid()
        tag = f"tg{pid}x{next(_serial)}"
        self.client, self.gw, self.origin = f"{tag}-client", f"{tag}-gw", f"{tag}-origin"
        # 10.64.0.0 .. 10.191.254.0: two /24 per bed, from the pid.
        second, third = 64 + (pid >> 7) % 128, (pid % 128) * 2
        net0, net1 = f"10.{second}.{third}", f"10.{second}.{third + 1}"
        self.client_ip, self.gw_client_ip = f"{net0}.1", f"{net0}.2"
        self.gw_origin_ip, self.origin_ip = f"{net1}.1", f"{net1}.2"
        self.port = port
        self._created: list[str] = []
        self.log: list[str] = []   # every set-up command, for failure messages

    # -- build / tear down ---------------------------------------------------------------
    def _step(self, *cmd: str) -> None:
        self.log.append(" ".join(cmd))
        try:
            p = _run(list(cmd))
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BedError(f"`{' '.join(cmd)}`: {e}") from e
        if p.returncode != 0:
            raise BedError(f"`{' '.join(cmd)}` exited {p.returncode}: {p.stderr.strip()}")

    @staticmethod
    def _enter(ns: str) -> list[str]:
        """The prefix that runs a command in `ns`'s network namespace. nsenter --net, not
        `ip -n` / `ip netns exec`: those also make a mount namespace and remount /sys in
        it, which fails in a chroot ("mount --make-rslave /": / is not a mount point
        there); a network namespace is all these commands need."""
        return ["nsenter", f"--net=/run/netns/{ns}"]

    def _in(self, ns: str, *cmd: str) -> None:
        self._step(*self._enter(ns), *cmd)

    def build(self) -> "TproxyBed":
        if os.geteuid() != 0:
            raise BedError("network namespaces need root (euid is %d)" % os.geteuid())
        for tool in ("ip", "iptables"):
            if shutil.which(tool) is None:
                raise BedError(f"`{tool}` not found in PATH")
        for ns in (self.client, self.gw, self.origin):
            # A namespace of a dead run with the same pid: ours to reuse.
            _run(["ip", "netns", "del", ns])
            self._step("ip", "netns", "add", ns)
            self._created.append(ns)
            self._step(*self._enter(ns), "ip", "link", "set", "lo", "up")
        c, g, o = self.client, self.gw, self.origin
        # Each veth is born with its two ends in their namespaces: no name in the root ns.
        self._step(*self._enter(c), "ip", "link", "add", "to_gw", "type", "veth",
                   "peer", "name", "to_client", "netns", g)
        self._step(*self._enter(g), "ip", "link", "add", "to_origin", "type", "veth",
                   "peer", "name", "to_gw", "netns", o)
        for ns, dev, addr in ((c, "to_gw", self.client_ip), (g, "to_client", self.gw_client_ip),
                              (g, "to_origin", self.gw_origin_ip), (o, "to_gw", self.origin_ip)):
            self._step(*self._enter(ns), "ip", "addr", "add", f"{addr}/24", "dev", dev)
            self._step(*self._enter(ns), "ip", "link", "set", dev, "up")
        self._step(*self._enter(c), "ip", "route", "add", "default", "via", self.gw_client_ip)
        self._step(*self._enter(o), "ip", "route", "add", "default", "via", self.gw_origin_ip)
        self._in(g, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        # TPROXY (Documentation/networking/tproxy.rst): divert, mark, deliver locally.
        self._in(g, "iptables", "-w", "-t", "mangle", "-A", "PREROUTING", "-i", "to_client",
                 "-p", "tcp", "-j", "TPROXY", "--on-ip", "0.0.0.0",
                 "--on-port", str(self.port), "--tproxy-mark", MARK)
        self._step(*self._enter(g), "ip", "rule", "add", "fwmark", MARK, "lookup", str(ROUTE_TABLE))
        self._step(*self._enter(g), "ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo",
                   "table", str(ROUTE_TABLE))
        # The tests' in-process sockets need setns(2): prove it once per namespace.
        for ns in (c, g, o):
            try:
                with self.entered(ns):
                    pass
            except OSError as e:
                raise BedError(f"setns into {ns}: {e}") from e
        self._wait_links_up()
        return self

    def _wait_links_up(self, timeout: float = 5.0) -> None:
        """veth carrier comes up asynchronously; the first SYN must not race it."""
        deadline = time.monotonic() + timeout
        pairs = ((self.client, "to_gw"), (self.gw, "to_client"), (self.gw, "to_origin"),
                 (self.origin, "to_gw"))
        while True:
            down = []
            for ns, dev in pairs:
                p = _run([*self._enter(ns), "ip", "-o", "link", "show", dev])
                if "LOWER_UP" not in p.stdout:
                    down.append(f"{ns}/{dev}")
            if not down:
                return
            if time.monotonic() >= deadline:
                raise BedError(f"links still down after {timeout}s: {', '.join(down)}")
            time.sleep(0.02)

    def teardown(self) -> list[str]:
        """Deletes the namespaces (and with them everything in them). Returns problems."""
        problems = []
        for ns in reversed(self._created):
            p = _run(["ip", "netns", "del", ns])
            if p.returncode != 0:
                problems.append(f"ip netns del {ns}: {p.stderr.strip()}")
        self._created.clear()
        # `ip netns add` made /run/netns a mount point of its own; once no namespace is left
        # in it, undo that too, so that a chroot or container can be removed afterwards.
        with contextlib.suppress(OSError):
            if not os.listdir("/run/netns"):
                _run(["umount", "/run/netns"])
        return problems

    def __enter__(self) -> "TproxyBed":
        try:
            return self.build()
        except BaseException as e:
            self.teardown()
            if isinstance(e, BedError):
                pytest.skip(f"TPROXY test bed refused: {e}")
            raise

    def __exit__(self, *exc) -> None:
        problems = self.teardown()
        if problems and exc[0] is None:
            raise AssertionError("TPROXY test bed teardown: " + "; ".join(problems))

    # -- running things in a namespace ---------------------------------------------------
    def wrapper(self, ns: str) -> list[str]:
        """The command prefix that runs a process in `ns` (Gateway(wrapper=...)).

        nsenter execs the command in place (no fork), so signals sent to the Popen's pid
        reach the command itself."""
        return self._enter(ns)

    def run(self, ns: str, *cmd: str, input: bytes | None = None,
            timeout: float = 20.0) -> subprocess.CompletedProcess:
        """Runs cmd in `ns` to completion; bytes stdout/stderr."""
        return subprocess.run(self.wrapper(ns) + list(cmd), input=input, capture_output=True,
                              timeout=timeout)

    def popen(self, ns: str, *cmd: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.wrapper(ns) + list(cmd), **kwargs)

    @contextlib.contextmanager
    def entered(self, ns: str):
        """Runs the body with the calling thread in `ns` (other threads stay where they
        are). Sockets created in the body belong to `ns` for their whole life."""
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            os.close(target)
            raise
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)  # if this fails the thread is lost: let it raise
        finally:
            os.close(target)
            os.close(home)

    def connect(self, ns: str, address: tuple[str, int], timeout: float = 10.0) -> socket.socket:
        """A TCP connection made from `ns`."""
        with self.entered(ns):
            return socket.create_connection(address, timeout=timeout)

    def listen(self, ns: str, address: tuple[str, int], *,
               transparent: bool = False) -> socket.socket:
        """A listening TCP socket in `ns`; IP_TRANSPARENT (before bind) if asked."""
        with self.entered(ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if transparent:
                s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
            s.bind(address)
            s.listen(128)
        except BaseException:
            s.close()
            raise
        return s

    def transparent_listener(self, passthrough: bool = True) -> dict:
        """The tlsgate listener that receives the diverted connections."""
        return {"listen": f"0.0.0.0:{self.port}", "transparent": True,
                "passthrough": passthrough}


def NsServer(sock: socket.socket, handler, timeout: float = 30.0) -> TcpServer:
    """A TcpServer on a socket made by TproxyBed.listen (inside a namespace)."""
    return TcpServer(handler, sock=sock, timeout=timeout)


def recv_exactly(sock: socket.socket, n: int, sink) -> int:
    """Reads n bytes into sink(chunk), stopping early at EOF or when the socket's timeout
    expires with nothing coming; returns how many came."""
    got = 0
    while got < n:
        try:
            chunk = sock.recv(min(1 << 20, n - got))
        except TimeoutError:
            break
        if not chunk:
            break
        sink(chunk)
        got += len(chunk)
    return got
