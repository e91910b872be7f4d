"""Client-side helpers: Python `ssl`, `openssl s_client`, raw sockets.

Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


# --------------------------------------------------------------------------------------
# Python ssl, blocking
# --------------------------------------------------------------------------------------

def client_context(cafile: Path, *, check_hostname: bool = True, alpn: list[str] | None = None,
                   min_version: ssl.TLSVersion | None = None,
                   max_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(cafile))
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def tls_connect(port: int, ctx: ssl.SSLContext, sni: str | None,
                timeout: float = 10.0) -> ssl.SSLSocket:
    raw = socket.create_connection((HOST, port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise


def http_get(sock: ssl.SSLSocket, host: str, path: str = "/",
             close: bool = False) -> tuple[int, dict, bytes]:
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
    if close:
        req += "Connection: close\r\n"
    sock.sendall((req + "\r\n").encode())
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    body = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    return resp.status, headers, body


@dataclass
class InspectResult:
    status: int
    json: dict
    peer_der: bytes
    cipher: str
    version: str
    client_addr: tuple[str, int]


def inspect(port: int, ctx: ssl.SSLContext, sni: str | None,
            timeout: float = 10.0) -> InspectResult:
    """One TLS connection + one GET to builtin:inspect; returns the parsed answer."""
    with tls_connect(port, ctx, sni, timeout) as s:
        status, headers, body = http_get(s, sni or HOST, close=True)
        return InspectResult(status, json.loads(body), s.getpeercert(binary_form=True),
                             s.cipher()[0], s.version(), s.getsockname())


# --------------------------------------------------------------------------------------
# Python ssl over memory BIOs: full control of every byte and of the socket
# --------------------------------------------------------------------------------------

def client_hello_bytes(sni: str = "a.test") -> bytes:
    """A real ClientHello record, as Python's OpenSSL would send it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    assert data[:1] == b"\x16", data[:16]
    return data


class BioTls:
    """A TLS client driven by hand over a non-blocking socket (ssl.SSLObject)."""

    def __init__(self, port: int, ctx: ssl.SSLContext, sni: str | None,
                 timeout: float = 10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setblocking(False)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=False, server_hostname=sni)
        self.timeout = timeout
        self.tcp_eof = False
        self.end: str | None = None   # "close_notify" | "eof" once the peer is done

    def close(self) -> None:
        self.sock.close()

    def _pump(self, deadline: float, want_read: bool) -> None:
        """Sends pending output; if want_read, waits for and feeds input."""
        while True:
            rl = [self.sock] if want_read and not self.tcp_eof else []
            wl = [self.sock] if self.out.pending else []
            if not rl and not wl:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("BioTls: timed out")
            r, w, _ = select.select(rl, wl, [], left)
            if w:
                self._send_some()
                continue
            if r:
                try:
                    data = self.sock.recv(65536)
                except BlockingIOError:
                    continue
                if data:
                    self.inc.write(data)
                else:
                    self.tcp_eof = True
                    self.inc.write_eof()
                return

    def handshake(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._pump(deadline, want_read=True)
        self._pump(deadline, want_read=False)

    def _read_available(self, into: bytearray) -> bool:
        """Reads decrypted data; returns False once the peer finished sending."""
        while True:
            try:
                chunk = self.obj.read(65536)
            except ssl.SSLWantReadError:
                return True
            except ssl.SSLZeroReturnError:
                self.end = "close_notify"
                return False
            except ssl.SSLEOFError:
                self.end = "eof"
                return False
            if not chunk:
                self.end = "close_notify" if not self.tcp_eof else "eof"
                return False
            into += chunk

    def exchange(self, data: bytes, expect: int, timeout: float) -> bytes:
        """Sends `data` while reading; returns once `expect` bytes came back or the peer
        ended."""
        deadline = time.monotonic() + timeout
        got = bytearray()
        sent = 0
        while True:
            while sent < len(data) and self.out.pending < 256 * 1024:
                sent += self.obj.write(data[sent:sent + 16384])
            if not self._read_available(got) or len(got) >= expect and sent == len(data):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"exchange: sent {sent}/{len(data)}, got {len(got)}/{expect}")
            rl = [] if self.tcp_eof else [self.sock]
            wl = [self.sock] if self.out.pending else []
            if not rl and not wl:
                continue
            r, w, _ = select.select(rl, wl, [], min(left, 0.5))
            if w:
                self._send_some()
            if r:
                try:
                    chunk = self.sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    chunk = None
                if chunk == b"":
                    self.tcp_eof = True
                    self.inc.write_eof()
                elif chunk:
                    self.inc.write(chunk)
        self._flush(deadline)
        return bytes(got)

    def _send_some(self) -> None:
        data = self.out.read()
        try:
            n = self.sock.send(data)
        except BlockingIOError:
            n = 0
        if n < len(data):
            rest = data[n:] + self.out.read()
            self.out.write(rest)

    def _flush(self, deadline: float) -> None:
        while self.out.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("flush timed out")
            select.select([], [self.sock], [], left)
            self._send_some()

    def send_close_notify(self) -> None:
        """TLS half-close: our close_notify, TCP stays open for the peer's data."""
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self._flush(time.monotonic() + self.timeout)

    def read_until_end(self, timeout: float) -> bytes:
        got = bytearray()
        deadline = time.monotonic() + timeout
        while self._read_available(got):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"read_until_end: got {len(got)} bytes, no end")
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                try:
                    chunk = self.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionResetError:
                    self.end = "reset"
                    break
                if chunk:
                    self.inc.write(chunk)
                else:
                    self.tcp_eof = True
                    self.inc.write_eof()
        return bytes(got)


# --------------------------------------------------------------------------------------
# Large ClientHellos, cut every way (a post-quantum ClientHello is 1.5-2 KB)
# --------------------------------------------------------------------------------------

def large_hello_context(cafile: Path | None = None, size: int = 2000) -> ssl.SSLContext:
    """A client context whose ClientHello is about `size` bytes on every library: ALPN names
    pad it (http/1.1 last, so that tlsgate still selects it), as an X25519MLKEM768 key share
    would."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(str(cafile))
    names = [f"x-pad-{i:03d}-{'p' * 40}" for i in range(max(1, (size - 300) // 51))]
    ctx.set_alpn_protocols(names + ["http/1.1"])
    return ctx


def reframe(flight: bytes, body: int) -> bytes:
    """The same handshake bytes in records of at most `body` bytes each (a handshake
    message may span records, RFC 8446 5.1): what a client or a middlebox may send."""
    out = bytearray()
    pos = 0
    while pos + 5 <= len(flight):
        ctype, version = flight[pos], flight[pos + 1:pos + 3]
        length = int.from_bytes(flight[pos + 3:pos + 5], "big")
        payload = flight[pos + 5:pos + 5 + length]
        for i in range(0, len(payload), body):
            piece = payload[i:i + body]
            out += bytes([ctype]) + version + len(piece).to_bytes(2, "big") + piece
        pos += 5 + length
    return bytes(out)


class TrickleTls(BioTls):
    """BioTls whose first flight (the ClientHello) is re-framed into small records and sent
    one byte per TCP segment, after an optional prefix (a PROXY header) in the same send as
    its first byte, or the whole lot in one send."""

    def send_hello(self, prefix: bytes = b"", record_body: int = 256,
                   one_byte_at_a_time: bool = True) -> bytes:
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = self.out.read()
        assert hello[:1] == b"\x16", hello[:16]
        wire = reframe(hello, record_body)
        self.sock.setblocking(True)
        if one_byte_at_a_time:
            self.sock.sendall(prefix + wire[:1])
            for i in range(1, len(wire)):
                self.sock.sendall(wire[i:i + 1])
                time.sleep(0.0005)
        else:
            self.sock.sendall(prefix + wire)
        self.sock.setblocking(False)
        return hello


# --------------------------------------------------------------------------------------
# Raw sockets
# --------------------------------------------------------------------------------------

def wait_closed(sock: socket.socket, timeout: float) -> tuple[str, float, bytes]:
    """Reads until the peer closes. Returns (how, seconds, bytes read): how is "eof",
    "reset" or "timeout"."""
    start = time.monotonic()
    data = bytearray()
    sock.setblocking(False)
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            return "timeout", time.monotonic() - start, bytes(data)
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            return "reset", time.monotonic() - start, bytes(data)
        if not chunk:
            return "eof", time.monotonic() - start, bytes(data)
        data += chunk


def refused(port: int) -> bool:
    """True when nothing listens on HOST:port (the connection is refused)."""
    try:
        socket.create_connection((HOST, port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


def is_tls_alert(data: bytes) -> bool:
    return len(data) >= 7 and data[0] == 0x15


# --------------------------------------------------------------------------------------
# openssl s_client
# --------------------------------------------------------------------------------------

@dataclass
class SClient:
    rc: int
    out: str

    @property
    def handshake_ok(self) -> bool:
        return self.rc == 0 and "Cipher is (NONE)" not in self.out and bool(
            re.search(r"^New, TLSv1", self.out, re.M))

    def field(self, pattern: str) -> str | None:
        m = re.search(pattern, self.out, re.M)
        return m.group(1) if m else None

    @property
    def certs_pem(self) -> list[str]:
        return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                          self.out, re.S)


def s_client(port: int, *args: str, sni: str | None = None, stdin: bytes = b"",
             timeout: float = 20.0) -> SClient:
    cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}"]
    if sni is not None:
        cmd += ["-servername", sni]
    else:
        cmd += ["-noservername"]
    cmd += list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    return SClient(p.returncode, p.stdout.decode(errors="replace")
                   + "\n" + p.stderr.decode(errors="replace"))


def through_tunnel(port: int, sni: str, timeout: float = 20.0) -> tuple[bytes, bytes]:
    """A TLS client that does not verify (a tunnel's destination has its own, self-signed
    certificate): returns (the peer certificate as DER, the first line it sends)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with tls_connect(port, ctx, sni, timeout=timeout) as s:
        der = s.getpeercert(binary_form=True)
        line = b""
        while not line.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            line += chunk
    return der, line
