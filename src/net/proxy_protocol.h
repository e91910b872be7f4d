// PROXY protocol v1 (text) and v2 (binary): a pure parser for the header a load balancer in
// front of us puts at the start of a connection, and writers for the header we send to an
// origin. The format is HAProxy's proxy-protocol.txt; no I/O happens here.
//
// The parser is strict, as HAProxy is: what it does not understand exactly it rejects, so a
// spoofed or corrupted header never turns into a wrong client address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "net/address.h"

namespace tlsgate::net {

// Bounds: v1 is at most 107 bytes including CRLF (the spec's limit); v2 is the 16-byte
// header plus at most kProxyV2MaxPayload bytes of addresses and TLVs.
inline constexpr size_t kProxyV1MaxBytes = 107;
inline constexpr size_t kProxyV2MaxPayload = 2048;  // our cap; more is invalid
inline constexpr size_t kProxyMaxBytes = 16 + kProxyV2MaxPayload;

struct ProxyHeader {
  int version = 0;  // 1 or 2
  // False for v1 UNKNOWN, v2 LOCAL, v2 AF_UNSPEC/AF_UNIX: keep the socket's own addresses.
  bool hasAddresses = false;
  Address source;         // the client, as seen by the proxy in front of us (with port)
  Address destination;    // the address the client connected to (with port)
  std::string alpn;       // v2 TLV PP2_TYPE_ALPN (0x01), empty if absent
  std::string authority;  // v2 TLV PP2_TYPE_AUTHORITY (0x02) (the SNI), empty if absent
};

enum class ProxyParseStatus { kNeedMore, kInvalid, kDone };

struct ProxyParseResult {
  ProxyParseStatus status = ProxyParseStatus::kNeedMore;
  size_t consumed = 0;  // kDone: length of the whole header (what to remove from the stream)
  ProxyHeader header;   // kDone only
  std::string error;    // kInvalid: one line saying what is wrong (for a debug log)
};

// parseProxyHeader parses the start of a connection's byte stream. `data` is everything
// received so far (maybe only part of the header): kNeedMore means "give me more bytes and
// call again with all of them". It never reads past `len`, allocates nothing but the header's
// strings, and rejects anything that is neither a v1 nor a v2 signature as soon as the
// received prefix proves it (a TLS ClientHello's 0x16 is kInvalid at once; "PROX" is
// kNeedMore). kNeedMore is only ever returned for len < kProxyMaxBytes.
//
// v1: "PROXY " then TCP4 or TCP6 with source address, destination address, source port and
// destination port, each after exactly one space, then CRLF, all within kProxyV1MaxBytes.
// Addresses must be literals of the announced family (inet_pton); ports are 1 to 5 decimal
// digits up to 65535, nothing else (no sign). "PROXY UNKNOWN" may be followed by anything up
// to the CRLF and carries no addresses. A CR not followed by LF, a lone LF, or any other
// byte that is not printable US-ASCII (a NUL, a control byte, 0x7f and above) is invalid.
//
// v2: the 12-byte signature, version 2, command LOCAL or PROXY, and a family/protocol byte
// among TCP over IPv4 (0x11), TCP over IPv6 (0x21), UNSPEC (0x00) and UNIX stream (0x31);
// anything else, UDP included, is invalid for both commands (we only proxy TCP). The length
// must cover the address block and stay within kProxyV2MaxPayload. The TLVs after the
// address block must tile the rest exactly; ALPN and AUTHORITY are kept, CRC32C (0x03) must
// be 4 bytes and match, and each of these three may appear at most once (a second SNI would
// be ambiguous). Other types are skipped. LOCAL, UNSPEC and UNIX carry no addresses.
ProxyParseResult parseProxyHeader(const uint8_t* data, size_t len);

// Outbound TLVs. SSL (PP2_TYPE_SSL 0x20, client flags PP2_CLIENT_SSL, and PP2_CLIENT_CERT_CONN
// with verify 0 when a client certificate was verified, else verify 1 as the specification
// says "non-zero" for "no verified certificate"; with the
// sub-TLVs PP2_SUBTYPE_SSL_VERSION 0x21 and PP2_SUBTYPE_SSL_CIPHER 0x23), ALPN and AUTHORITY
// are written only when their field is non-empty; an empty sslVersion means no SSL TLV.
struct ProxyV2Tlvs {
  std::string alpn;
  std::string authority;
  std::string sslVersion;  // "TLSv1.3"
  std::string sslCipher;   // "TLS_AES_128_GCM_SHA256"
  bool clientCertVerified = false;
};

// buildProxyV2 writes a PROXY v2 header with the PROXY command, TCP over IPv4 or IPv6. When
// the two addresses differ in family the IPv4 one is written as IPv4-mapped IPv6. When either
// is not an IP address the family is UNSPEC (the receiver keeps its own addresses). A TLV
// that would take the payload past kProxyV2MaxPayload is left out, so that what we write
// our own parser accepts; SNI and ALPN values are far below that.
std::string buildProxyV2(const Address& source, const Address& destination,
                         const ProxyV2Tlvs& tlvs);

// buildProxyV1 writes "PROXY TCP4 1.2.3.4 5.6.7.8 1111 443\r\n" (TCP6 for IPv6, with the
// same IPv4-mapped rule as v2), or "PROXY UNKNOWN\r\n" when either is not an IP address.
std::string buildProxyV1(const Address& source, const Address& destination);

// crc32c is the CRC-32C (Castagnoli) of `len` bytes, continuing from `crc` (0 to start), as
// the v2 CRC32C TLV carries it. Exposed for tests and for a writer that wants to add one.
uint32_t crc32c(const uint8_t* data, size_t len, uint32_t crc = 0);

}  // namespace tlsgate::net
