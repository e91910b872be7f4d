"""Plaintext upstream servers run in threads by the tests (loopback only)."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import ssl
import threading
import time
from pathlib import Path


def closed_port() -> int:
    """A loopback port where nothing listens (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpServer:
    """Accepts on 127.0.0.1:0 (or on `sock`, a listening socket made elsewhere, e.g. in a
    network namespace) and runs handler(conn, record) in a thread per connection, with
    `timeout` on each connection.

    `record` is a dict the handler fills (what it saw; "peer" and "local" are filled in);
    `records` keeps one per connection. Exceptions raised by handlers are kept in `errors`."""

    def __init__(self, handler, sock: socket.socket | None = None, timeout: float = 60.0):
        self.handler = handler
        self.timeout = timeout
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
        self.sock = sock
        self.port = self.sock.getsockname()[1]
        self.records: list[dict] = []
        self.errors: list[BaseException] = []
        self.done = threading.Condition()
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)

    def __enter__(self) -> "TcpServer":
        self._accept.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop = True
        # Wakes accept() up: shutdown on a listening socket makes it return EINVAL.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._accept.join(5)
        self.sock.close()
        for t in self._threads:
            t.join(5)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            if self._stop:
                conn.close()
                return
            record: dict = {"finished": False, "peer": peer, "local": conn.getsockname()}
            with self.done:
                self.records.append(record)
            t = threading.Thread(target=self._run, args=(conn, record), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, conn: socket.socket, record: dict) -> None:
        try:
            conn.settimeout(self.timeout)
            self.handler(conn, record)
        except BaseException as e:  # reported by the test through `errors`
            record["error"] = repr(e)
            self.errors.append(e)
        finally:
            conn.close()
            with self.done:
                record["finished"] = True
                self.done.notify_all()

    def wait_finished(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.done:
            while sum(1 for r in self.records if r["finished"]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.done.wait(left)
        return True


def echo_handler(conn: socket.socket, record: dict) -> None:
    """Echoes everything; on EOF closes. Records the byte count and a SHA-256."""
    h = hashlib.sha256()
    n = 0
    while True:
        data = conn.recv(262144)
        if not data:
            break
        n += len(data)
        h.update(data)
        conn.sendall(data)
    record["received"] = n
    record["sha256"] = h.hexdigest()
    record["eof"] = True


def half_close_handler(delay: float = 0.3):
    """Reads until EOF, then (after `delay`) answers with what it got and closes: the answer
    travels after the client has shut its write side."""
    def handler(conn: socket.socket, record: dict) -> None:
        h = hashlib.sha256()
        n = 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            n += len(data)
            h.update(data)
        record["eof"] = True
        record["received"] = n
        time.sleep(delay)
        conn.sendall(f"got {n} bytes sha256 {h.hexdigest()}\n".encode())
        conn.shutdown(socket.SHUT_WR)
    return handler


def greet_and_close_handler(greeting: bytes):
    """Sends a greeting and closes at once, without reading."""
    def handler(conn: socket.socket, record: dict) -> None:
        conn.sendall(greeting)
        conn.shutdown(socket.SHUT_WR)
        record["sent"] = len(greeting)
    return handler


class HttpUpstream:
    """http.server in a thread: answers GET with JSON {token, path, host, headers}."""

    def __init__(self, token: str):
        self.token = token
        self.requests: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                seen = {"path": self.path, "host": self.headers.get("Host"),
                        "token": outer.token}
                outer.requests.append(seen)
                body = json.dumps(seen).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "HttpUpstream":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def record_sni(ctx: ssl.SSLContext) -> threading.local:
    """Makes `ctx` record the SNI of each handshake in the returned thread-local's `sni`
    (one handler thread per connection; reset it to None before each handshake)."""
    seen = threading.local()

    def on_sni(_sslsock, name, _ctx):
        seen.sni = name

    ctx.sni_callback = on_sni
    return seen


class TlsServer(TcpServer):
    """A TLS server (Python ssl) in threads: per connection, completes the handshake, sends
    `tunnel-server sni=<SNI it saw>\\n`, then reads until EOF."""

    def __init__(self, crt: Path, key: Path):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        seen = record_sni(ctx)

        def handler(conn: socket.socket, record: dict) -> None:
            seen.sni = None
            with ctx.wrap_socket(conn, server_side=True) as tls:
                record["sni"] = seen.sni
                record["handshake"] = True
                tls.sendall(f"tunnel-server sni={seen.sni}\n".encode())
                while tls.recv(65536):
                    pass

        super().__init__(handler)


# --------------------------------------------------------------------------------------
# Tagged upstreams: which endpoint did a connection reach?
# --------------------------------------------------------------------------------------

def tagged_echo_handler(tag: str):
    """Sends `<tag>\\n` as soon as the connection is accepted, then echoes everything until
    EOF. Records the tag and the bytes received (not counting the tag)."""
    def handler(conn: socket.socket, record: dict) -> None:
        record["tag"] = tag
        conn.sendall(f"{tag}\n".encode())
        echo_handler(conn, record)
    return handler


# --------------------------------------------------------------------------------------
# HTTP/2 upstreams without TLS (h2c, prior knowledge): what an `h2` ALPN route gets
# --------------------------------------------------------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type SETTINGS


def h2c_stub_handler(conn: socket.socket, record: dict) -> None:
    """Records the first 24 bytes (`preface`): the HTTP/2 connection preface when an h2
    client's bytes arrive here. Answers a real preface with an empty SETTINGS frame, then
    closes (it serves no request)."""
    head = b""
    while len(head) < len(H2_PREFACE):
        chunk = conn.recv(len(H2_PREFACE) - len(head))
        if not chunk:
            break
        head += chunk
    record["preface"] = head
    if head == H2_PREFACE:
        conn.sendall(H2_EMPTY_SETTINGS)
    conn.shutdown(socket.SHUT_WR)


def find_nghttpd() -> str | None:
    """Debian's nghttp2-server installs /usr/sbin/nghttpd (sbin may be off PATH)."""
    import shutil
    return shutil.which("nghttpd") or next(
        (p for p in ("/usr/sbin/nghttpd", "/usr/bin/nghttpd") if Path(p).is_file()), None)


def _accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port now."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class NghttpdUpstream:
    """nghttpd --no-tls (h2c, prior knowledge) serving `files` ({name: text}) from a
    temporary document root on 127.0.0.1. Runs with -v: `log_lines()` has every frame and
    header it received (e.g. ':path: /token', ':authority: host:port')."""

    def __init__(self, workdir: Path, files: dict[str, str], binary: str | None = None):
        self.binary = binary or find_nghttpd()
        if self.binary is None:
            raise FileNotFoundError("nghttpd not found (Debian package nghttp2-server)")
        self.root = Path(workdir)
        self.root.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (self.root / name).write_text(text)
        self.port = 0
        self.proc = None
        self._lines: list[str] = []
        self._cond = threading.Condition()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def wait_log(self, predicate, timeout: float = 5.0) -> list[str]:
        """The log lines once predicate(lines) holds, or at the timeout: the log is read
        by a thread, so a request's lines may come a moment after its response."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._lines) and time.monotonic() < deadline:
                self._cond.wait(0.05)
            return list(self._lines)

    def _read(self, proc) -> None:
        for raw in proc.stdout:
            with self._cond:
                self._lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def __enter__(self) -> "NghttpdUpstream":
        import subprocess
        for _ in range(5):  # the chosen port may be taken in between: retry
            self.port = closed_port()
            self._lines = []
            self.proc = subprocess.Popen(
                # stdbuf: nghttp2 1.70 buffers its log when it goes to a pipe.
                ["stdbuf", "-oL", self.binary, "--no-tls", "-v", "-a", "127.0.0.1", "-d",
                 str(self.root), str(self.port)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT)
            threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
            # Ready when it accepts a connection: nghttp2 1.70 (Debian forky) no longer
            # prints its "listen" line where a pipe would show it at once.
            deadline = time.monotonic() + 10
            while self.proc.poll() is None and time.monotonic() < deadline:
                if _accepts(self.port):
                    return self
                time.sleep(0.05)
            self.__exit__()
        raise RuntimeError(f"nghttpd did not start: {self._lines}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------------------
# PROXY protocol (HAProxy's proxy-protocol.txt) as an upstream receives it
# --------------------------------------------------------------------------------------

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_TYPE_ALPN = 0x01
PP2_TYPE_AUTHORITY = 0x02
PP2_TYPE_SSL = 0x20
PP2_SUBTYPE_SSL_VERSION = 0x21
PP2_SUBTYPE_SSL_CIPHER = 0x23
PP2_CLIENT_SSL = 0x01


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError(f"EOF after {len(data)} of {n} bytes: {data!r}")
        data += chunk
    return data


def parse_tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """TLVs (type: 1 byte, length: 2 bytes big endian, value) that must tile `data`."""
    out = []
    i = 0
    while i < len(data):
        if len(data) - i < 3:
            raise ValueError(f"truncated TLV header at {i}: {data[i:]!r}")
        t, n = data[i], int.from_bytes(data[i + 1:i + 3], "big")
        if i + 3 + n > len(data):
            raise ValueError(f"TLV 0x{t:02x} of length {n} overruns the block at {i}")
        out.append((t, data[i + 3:i + 3 + n]))
        i += 3 + n
    return out


def _parse_proxy_v2(conn: socket.socket, sig: bytes) -> dict:
    rest = _recv_exact(conn, 4)
    ver_cmd, fam = rest[0], rest[1]
    length = int.from_bytes(rest[2:4], "big")
    body = _recv_exact(conn, length)
    header = {"version": ver_cmd >> 4, "command": ver_cmd & 0x0F, "family": fam,
              "raw": sig + rest + body}
    if fam == 0x11:    # TCP over IPv4
        alen = 12
        src, dst = socket.inet_ntop(socket.AF_INET, body[0:4]), \
            socket.inet_ntop(socket.AF_INET, body[4:8])
    elif fam == 0x21:  # TCP over IPv6
        alen = 36
        src, dst = socket.inet_ntop(socket.AF_INET6, body[0:16]), \
            socket.inet_ntop(socket.AF_INET6, body[16:32])
    else:
        alen, src, dst = 0, None, None
    if alen:
        sport = int.from_bytes(body[alen - 4:alen - 2], "big")
        dport = int.from_bytes(body[alen - 2:alen], "big")
        header["source"] = (src, sport)
        header["destination"] = (dst, dport)
    tlvs = parse_tlvs(body[alen:])
    header["tlvs"] = tlvs
    by_type: dict[int, list[bytes]] = {}
    for t, v in tlvs:
        by_type.setdefault(t, []).append(v)
    header["tlv_types"] = [t for t, _ in tlvs]
    header["alpn"] = by_type[PP2_TYPE_ALPN][0].decode() if PP2_TYPE_ALPN in by_type else None
    header["authority"] = (by_type[PP2_TYPE_AUTHORITY][0].decode()
                           if PP2_TYPE_AUTHORITY in by_type else None)
    header["ssl"] = None
    if PP2_TYPE_SSL in by_type:
        v = by_type[PP2_TYPE_SSL][0]
        subs = parse_tlvs(v[5:])
        sub = {t: val for t, val in subs}
        header["ssl"] = {
            "client": v[0], "verify": int.from_bytes(v[1:5], "big"),
            "subtypes": [t for t, _ in subs],
            "version": sub[PP2_SUBTYPE_SSL_VERSION].decode()
            if PP2_SUBTYPE_SSL_VERSION in sub else None,
            "cipher": sub[PP2_SUBTYPE_SSL_CIPHER].decode()
            if PP2_SUBTYPE_SSL_CIPHER in sub else None,
        }
    return header


def read_proxy_header(conn: socket.socket) -> tuple[dict | None, bytes]:
    """Reads exactly one PROXY header (v1 or v2) from the start of the stream.

    Returns (header, b"") when there is one, else (None, the bytes read while finding out),
    which belong to the stream. A v1 header is {"version": 1, "line": "PROXY ...\\r\\n",
    "raw"}; a v2 header has version, command, family, source/destination as (ip, port),
    tlvs [(type, value)], tlv_types, alpn, authority and ssl ({client, verify, subtypes,
    version, cipher} or None)."""
    def may_be_header(head: bytes) -> bool:
        return (PROXY_V2_SIGNATURE.startswith(head) or b"PROXY ".startswith(head)
                or head.startswith(b"PROXY "))

    head = b""
    # Stops as soon as the bytes cannot start a header: a plain stream shorter than 12 bytes
    # (a client waiting for its echo) must not stall here.
    while len(head) < 12 and may_be_header(head):
        chunk = conn.recv(12 - len(head))
        if not chunk:
            return None, head
        head += chunk
    if head == PROXY_V2_SIGNATURE:
        return _parse_proxy_v2(conn, head), b""
    if not head.startswith(b"PROXY "):
        return None, head
    line = head
    while not line.endswith(b"\r\n"):  # v1: one byte at a time, never past the CRLF
        if len(line) >= 107:
            raise ValueError(f"PROXY v1 line longer than 107 bytes: {line!r}")
        line += _recv_exact(conn, 1)
    return {"version": 1, "line": line.decode(), "raw": line}, b""


def proxy_header_echo_handler(conn: socket.socket, record: dict) -> None:
    """An upstream behind a PROXY-protocol sender: records the header (`proxy`, None when
    the stream does not start with one) and echoes the rest of the stream, whose size and
    SHA-256 it records as echo_handler does (the header not included)."""
    header, prefix = read_proxy_header(conn)
    record["proxy"] = header
    h = hashlib.sha256(prefix)
    n = len(prefix)
    if prefix:
        conn.sendall(prefix)
    while True:
        data = conn.recv(262144)
        if not data:
            break
        n += len(data)
        h.update(data)
        conn.sendall(data)
    record["received"] = n
    record["sha256"] = h.hexdigest()
    record["eof"] = True


# --------------------------------------------------------------------------------------
# TLS origins: what tlsgate meets when it is the TLS client (re-encrypt routes)
# --------------------------------------------------------------------------------------

def _subject_text(cert: dict | None) -> str | None:
    """A peer certificate's subject as getpeercert() gives it, in `CN=...,O=...` form."""
    if not cert:
        return None
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
             "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}
    return ",".join(f"{short.get(k, k)}={v}" for rdn in cert.get("subject", ()) for k, v in rdn)


class OriginServer(TcpServer):
    """A TLS origin (Python ssl) in threads, serving `chain` (leaf first, then any
    intermediates) with `key`.

    `client_ca`: the origin requires a client certificate signed by it (CERT_REQUIRED).
    `max_version`: caps the TLS version (TLS 1.2 makes a refused client certificate fail
    inside the client's handshake; under TLS 1.3 the refusal comes after it). `alpn`: the
    protocols it accepts.

    Per connection: the handshake, then one JSON line saying what it saw —
    {"sni": the server_name received or null, "reused": session resumed (tickets are
    issued, TLS 1.3 default of two per handshake; one SSLContext, so one ticket key),
    "client_subject": the client certificate's subject or null, "alpn", "version"} — then
    an echo of everything until EOF. Each record gets the same keys plus "handshake": True
    and "received" (bytes echoed). A failed handshake leaves the record without
    "handshake" and puts the exception in `errors`."""

    def __init__(self, chain: Path, key: Path, *, client_ca: Path | None = None,
                 max_version: ssl.TLSVersion | None = None, alpn: list[str] | None = None,
                 timeout: float = 30.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(chain), str(key))
        if client_ca is not None:
            ctx.load_verify_locations(cafile=str(client_ca))
            ctx.verify_mode = ssl.CERT_REQUIRED
        if max_version is not None:
            ctx.maximum_version = max_version
        if alpn:
            ctx.set_alpn_protocols(alpn)
        self.context = ctx
        seen = record_sni(ctx)

        def handler(conn: socket.socket, record: dict) -> None:
            seen.sni = None
            with ctx.wrap_socket(conn, server_side=True) as tls:
                hello = {"sni": seen.sni, "reused": tls.session_reused,
                         "client_subject": _subject_text(tls.getpeercert()),
                         "alpn": tls.selected_alpn_protocol(), "version": tls.version()}
                record.update(hello, handshake=True)
                tls.sendall((json.dumps(hello) + "\n").encode())
                n = 0
                try:
                    while True:
                        data = tls.recv(65536)
                        if not data:
                            break
                        n += len(data)
                        tls.sendall(data)
                    record["end"] = "close_notify"
                except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError) as e:
                    record["end"] = type(e).__name__  # tlsgate owes the origin nothing more
                record["received"] = n

        super().__init__(handler, timeout=timeout)


def silent_handler(conn: socket.socket, record: dict) -> None:
    """An origin that accepts TCP and never answers: reads (the ClientHello) until the peer
    closes. Records "received" (bytes), "first" (the first byte, b"\\x16" for a TLS
    handshake record) and "held" (seconds from the first byte to the peer's close)."""
    n = 0
    first = None
    start = None
    while True:
        try:
            data = conn.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            break
        if first is None:
            first, start = data[:1], time.monotonic()
        n += len(data)
    record["received"] = n
    record["first"] = first
    record["held"] = None if start is None else time.monotonic() - start
