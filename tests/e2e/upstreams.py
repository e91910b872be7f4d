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
    """Accepts on 127.0.0.1:0 and runs handler(conn, record) in a thread per connection.

    `record` is a dict the handler fills (what it saw); `records` keeps one per connection.
    Exceptions raised by handlers are kept in `errors`."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
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
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
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
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self._stop:
                conn.close()
                return
            record: dict = {"finished": False}
            with self.done:
                self.records.append(record)
            t = threading.Thread(target=self._run, args=(conn, record), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, conn: socket.socket, record: dict) -> None:
        try:
            conn.settimeout(60)
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


class TlsServer(TcpServer):
    """A TLS server (Python ssl) in threads: per connection, completes the handshake, sends
    `tunnel-server sni=<SNI it saw>\\n`, then reads until EOF."""

    def __init__(self, crt: Path, key: Path):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        seen = threading.local()

        def on_sni(sslsock, name, _ctx):
            seen.sni = name

        ctx.sni_callback = on_sni

        def handler(conn: socket.socket, record: dict) -> None:
            seen.sni = None
            with ctx.wrap_socket(conn, server_side=True) as tls:
                record["sni"] = seen.sni
                record["handshake"] = True
                tls.sendall(f"tunnel-server sni={seen.sni}\n".encode())
                while tls.recv(65536):
                    pass

        super().__init__(handler)
