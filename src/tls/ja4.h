// JA4: the TLS client fingerprint of FoxIO's specification (JA4.md of the FoxIO-LLC/ja4
// repository), TLS over TCP. README "JA4 fingerprints".
//
//   t13d1516h2_8daaf6152771_e5627efa2ab1
//   |||  | | |  |            `- JA4_c: SHA-256 of the sorted extensions (without SNI and
//   |||  | | |  |                ALPN), "_", the signature algorithms in the client's order
//   |||  | | |  `- JA4_b: SHA-256 of the sorted cipher suites
//   |||  | | `- first and last character of the first ALPN protocol ("00": none)
//   |||  | `- number of extensions, number of cipher suites: two digits each, at most 99
//   ||`- "d": the client sent a server_name extension, "i": it did not
//   |`- version: the highest of supported_versions, else the legacy version ("13", "12"...)
//   `- "t": TLS over TCP
//
// GREASE values (RFC 8701) count nowhere. A list is written as lowercase 4-digit hex values
// joined by ','; its hash is the first 12 hex digits of the SHA-256 of that text, or
// "000000000000" when the list is empty.
//
// Computed once per connection, in the ClientHello callback (readClientHello), for every
// handshake: no allocation but the result for the lists real clients send.
//
// The extension types come from the ClientHello's own bytes (the handshake buffer of the
// socket BIO), not from OpenSSL: OpenSSL lists only the extensions it knows, and JA4 counts
// and hashes all of them (GREASE aside) — compress_certificate, ALPS, ECH, which browsers
// send and OpenSSL 3.0 ignores. The other lists are OpenSSL's (known extensions).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tls/ossl.h"

namespace tlsgate::tls {

// A ClientHello list of 16-bit values: inline up to 128 of them (real clients send about
// 16 cipher suites and 20 extensions), on the heap beyond, so that any list is whole.
class U16Values {
 public:
  void push(uint16_t v) {
    if (heap_.empty() && size_ < inline_.size()) {
      inline_[size_++] = v;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_.begin(), inline_.begin() + size_);
    heap_.push_back(v);
    ++size_;
  }
  void clear() {
    size_ = 0;
    heap_.clear();
  }
  std::span<uint16_t> values() {
    return heap_.empty() ? std::span<uint16_t>(inline_.data(), size_) : std::span(heap_);
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::array<uint16_t, 128> inline_{};
  size_t size_ = 0;
  std::vector<uint16_t> heap_;  // once there were more than inline_ holds
};

// The raw lists of a ClientHello that JA4 reads, in the client's order, GREASE included.
struct Ja4Input {
  std::span<const uint16_t> ciphers;
  std::span<const uint16_t> extensions;           // the types, in the order sent
  std::span<const uint16_t> supportedVersions;    // empty: no supported_versions extension
  uint16_t legacyVersion = 0;                     // ClientHello.legacy_version
  std::span<const uint16_t> signatureAlgorithms;  // of signature_algorithms (0x000d)
  std::string_view alpn;  // the ALPN extension's protocol list, wire format; "": none
};

// The fingerprint of `in`: a pure function, for any list lengths.
std::string ja4Fingerprint(const Ja4Input& in);

// The extension types of the ClientHello that `records` start with (TLS records as the
// client sent them; the ClientHello may span several), in order, GREASE included, appended
// to `out`. False if `records` do not start with a whole, well-formed ClientHello.
bool clientHelloExtensionTypes(std::string_view records, U16Values& out);

// The fingerprint of the ClientHello `ssl` is reading; only inside OpenSSL's ClientHello
// callback. The extension types from handshakeBytesReceived() (tls/socket_bio.h); over
// another BIO (unit tests' BIO pairs), OpenSSL's list of the extensions it knows. "" if
// neither can be had.
std::string ja4OfClientHello(SSL* ssl);

// True for the reserved GREASE values 0x0a0a, 0x1a1a, ... 0xfafa (RFC 8701).
constexpr bool isGrease(uint16_t v) {
  return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

}  // namespace tlsgate::tls
