"""JA4, FoxIO's TLS client fingerprint (JA4.md of FoxIO-LLC/ja4), computed from the bytes a
client sends: the tests' own implementation, written from the specification and not from
tlsgate's (src/tls/ja4.cc), so that each checks the other. Also what the tests need around
it: a listener that records the ClientHello a client sends, and a ClientHello builder."""

from __future__ import annotations

import hashlib
import socket
import struct
from dataclasses import dataclass, field

from upstreams import TcpServer

GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
VERSION_CODES = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
                 0x0002: "s2", 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
SERVER_NAME, ALPN, SIGNATURE_ALGORITHMS, SUPPORTED_VERSIONS = 0x0000, 0x0010, 0x000D, 0x002B
JA4_RE = r"t(13|12|11|10|s3|s2|00)[di]\d{4}[0-9a-zA-Z]{2}_[0-9a-f]{12}_[0-9a-f]{12}"


@dataclass
class ClientHello:
    legacy_version: int
    ciphers: list[int]
    extensions: list[tuple[int, bytes]]  # (type, body), in the order sent


def _u16s(data: bytes) -> list[int]:
    return [v for (v,) in struct.iter_unpack(">H", data[: len(data) // 2 * 2])]


def handshake_message(records: bytes) -> bytes | None:
    """The first handshake message carried by the TLS records `records` (it may span
    several); None while incomplete."""
    body, pos = b"", 0
    while pos + 5 <= len(records):
        assert records[pos] == 22, f"not a handshake record: {records[pos:pos + 5].hex()}"
        length = int.from_bytes(records[pos + 3:pos + 5], "big")
        if pos + 5 + length > len(records):
            return None
        body += records[pos + 5:pos + 5 + length]
        pos += 5 + length
        if len(body) >= 4 and len(body) >= 4 + int.from_bytes(body[1:4], "big"):
            return body[:4 + int.from_bytes(body[1:4], "big")]
    return None


def parse(message: bytes) -> ClientHello:
    """A ClientHello handshake message (type, 3-byte length, body)."""
    assert message[0] == 1, "not a ClientHello"
    pos = 4
    legacy = int.from_bytes(message[pos:pos + 2], "big")
    pos += 2 + 32                      # version, random
    pos += 1 + message[pos]            # session id
    n = int.from_bytes(message[pos:pos + 2], "big")
    ciphers = _u16s(message[pos + 2:pos + 2 + n])
    pos += 2 + n
    pos += 1 + message[pos]            # compression methods
    extensions = []
    if pos + 2 <= len(message):
        end = pos + 2 + int.from_bytes(message[pos:pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            kind, size = struct.unpack(">HH", message[pos:pos + 4])
            extensions.append((kind, message[pos + 4:pos + 4 + size]))
            pos += 4 + size
    return ClientHello(legacy, ciphers, extensions)


def _alpn_chars(body: bytes | None) -> str:
    if body is None or len(body) < 3:
        return "00"
    first = body[3:3 + body[2]]
    if not first:
        return "00"
    if chr(first[0]).isascii() and chr(first[0]).isalnum() and chr(first[-1]).isascii() \
            and chr(first[-1]).isalnum():
        return chr(first[0]) + chr(first[-1])
    text = first.hex()
    return text[0] + text[-1]


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def ja4(message: bytes) -> str:
    """The JA4 of a ClientHello handshake message."""
    hello = parse(message)
    bodies = dict(hello.extensions)
    types = [t for t, _ in hello.extensions if t not in GREASE]
    ciphers = [c for c in hello.ciphers if c not in GREASE]
    versions = []
    if SUPPORTED_VERSIONS in bodies:
        body = bodies[SUPPORTED_VERSIONS]
        versions = [v for v in _u16s(body[1:1 + body[0]]) if v not in GREASE]
    version = max(versions) if versions else hello.legacy_version
    sigalgs = []
    if SIGNATURE_ALGORITHMS in bodies:
        body = bodies[SIGNATURE_ALGORITHMS]
        sigalgs = [v for v in _u16s(body[2:2 + int.from_bytes(body[:2], "big")])
                   if v not in GREASE]
    a = "t%s%s%02d%02d%s" % (VERSION_CODES.get(version, "00"),
                             "d" if SERVER_NAME in types else "i",
                             min(len(ciphers), 99), min(len(types), 99),
                             _alpn_chars(bodies.get(ALPN)))
    b = _hash12(",".join("%04x" % c for c in sorted(ciphers)))
    sorted_types = sorted(t for t in types if t not in (SERVER_NAME, ALPN))
    c_text = ",".join("%04x" % t for t in sorted_types)
    if sigalgs:
        c_text += "_" + ",".join("%04x" % s for s in sigalgs)
    c = _hash12(c_text) if sorted_types else "000000000000"
    return f"{a}_{b}_{c}"


# --------------------------------------------------------------------------------------
# What a client sends
# --------------------------------------------------------------------------------------

class HelloRecorder(TcpServer):
    """A listener that reads each connection's ClientHello and closes it: `hellos` holds the
    ClientHello messages in the order the connections came."""

    def __init__(self):
        super().__init__(self._read_hello, timeout=20.0)

    @staticmethod
    def _read_hello(conn: socket.socket, record: dict) -> None:
        data = b""
        while (message := handshake_message(data)) is None:
            chunk = conn.recv(65536)
            assert chunk, f"the client closed before a whole ClientHello: {data.hex()}"
            data += chunk
        record["hello"] = message

    @property
    def hellos(self) -> list[bytes]:
        return [r["hello"] for r in self.records if "hello" in r]


# --------------------------------------------------------------------------------------
# A ClientHello made from lists, for the specification's example
# --------------------------------------------------------------------------------------

def _vec(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _u16_bytes(values: list[int]) -> bytes:
    return b"".join(struct.pack(">H", v) for v in values)


@dataclass
class HelloSpec:
    ciphers: list[int]
    extensions: list[int]                       # types in order; bodies made below
    versions: list[int] = field(default_factory=lambda: [0x0304, 0x0303])
    sigalgs: list[int] = field(default_factory=list)
    alpn: list[bytes] = field(default_factory=lambda: [b"h2", b"http/1.1"])
    server_name: bytes = b"a.test"


def _extension_body(kind: int, spec: HelloSpec) -> bytes:
    if kind == SERVER_NAME:
        return _vec(b"\x00" + _vec(spec.server_name, 2), 2)
    if kind == ALPN:
        return _vec(b"".join(_vec(p, 1) for p in spec.alpn), 2)
    if kind == SIGNATURE_ALGORITHMS:
        return _vec(_u16_bytes(spec.sigalgs), 2)
    if kind == SUPPORTED_VERSIONS:
        return _vec(_u16_bytes(spec.versions), 1)
    if kind == 0x000A:  # supported_groups: x25519, secp256r1
        return _vec(_u16_bytes([0x001D, 0x0017]), 2)
    if kind == 0x000B:  # ec_point_formats: uncompressed
        return b"\x01\x00"
    if kind == 0x002D:  # psk_key_exchange_modes: psk_dhe_ke
        return b"\x01\x01"
    if kind == 0x0033:  # key_share: one x25519 share
        return _vec(struct.pack(">HH", 0x001D, 32) + bytes(range(1, 33)), 2)
    if kind == 0xFF01:  # renegotiation_info: empty
        return b"\x00"
    if kind in GREASE:
        return b"\x00"
    return b""  # empty bodies are valid for the others used here (0x0017, 0x0023...)


def build_hello(spec: HelloSpec) -> bytes:
    """One TLS record holding a ClientHello with exactly these lists."""
    extensions = b"".join(struct.pack(">H", k) + _vec(_extension_body(k, spec), 2)
                          for k in spec.extensions)
    body = (b"\x03\x03" + bytes(32) + _vec(bytes(32), 1) + _vec(_u16_bytes(spec.ciphers), 2)
            + b"\x01\x00" + _vec(extensions, 2))
    message = b"\x01" + _vec(body, 3)
    return b"\x16\x03\x01" + _vec(message, 2)
