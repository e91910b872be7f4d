"""A TLS client whose server name is any bytes (but NUL): OpenSSL's own client through
ctypes. Python's ssl module sends only IDNA-encoded ASCII names, and openssl s_client takes
the name from its command line; a hostile client is bound by neither."""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct

SSL_CTRL_SET_TLSEXT_HOSTNAME = 55
TLSEXT_NAMETYPE_HOST_NAME = 0


def _libssl() -> ctypes.CDLL:
    name = ctypes.util.find_library("ssl") or "libssl.so.3"
    lib = ctypes.CDLL(name)
    lib.TLS_client_method.restype = ctypes.c_void_p
    lib.SSL_CTX_new.restype = ctypes.c_void_p
    lib.SSL_CTX_new.argtypes = [ctypes.c_void_p]
    lib.SSL_CTX_free.argtypes = [ctypes.c_void_p]
    lib.SSL_new.restype = ctypes.c_void_p
    lib.SSL_new.argtypes = [ctypes.c_void_p]
    lib.SSL_free.argtypes = [ctypes.c_void_p]
    lib.SSL_set_fd.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.SSL_ctrl.restype = ctypes.c_long
    lib.SSL_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    lib.SSL_connect.argtypes = [ctypes.c_void_p]
    lib.SSL_write.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.SSL_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    return lib


def exchange(port: int, server_name: bytes, request: bytes, timeout: float) -> bytes:
    """Handshakes with 127.0.0.1:port sending `server_name` as SNI (no certificate check),
    sends `request`, and returns everything read until the server closes."""
    assert b"\0" not in server_name and len(server_name) <= 255
    lib = _libssl()
    ctx = lib.SSL_CTX_new(lib.TLS_client_method())
    assert ctx, "SSL_CTX_new"
    conn = None
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    # OpenSSL does blocking I/O on the fd: Python's timeout would make it non-blocking.
    sock.setblocking(True)
    limit = struct.pack("ll", int(timeout), 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
    try:
        conn = lib.SSL_new(ctx)
        name = ctypes.create_string_buffer(server_name)
        assert lib.SSL_ctrl(conn, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_HOST_NAME,
                            ctypes.cast(name, ctypes.c_void_p)) == 1, "SNI refused"
        assert lib.SSL_set_fd(conn, sock.fileno()) == 1
        assert lib.SSL_connect(conn) == 1, "handshake failed"
        assert lib.SSL_write(conn, request, len(request)) == len(request)
        out = bytearray()
        buf = ctypes.create_string_buffer(16384)
        while (n := lib.SSL_read(conn, buf, len(buf))) > 0:
            out += buf.raw[:n]
        return bytes(out)
    finally:
        if conn:
            lib.SSL_free(conn)
        lib.SSL_CTX_free(ctx)
        sock.close()
