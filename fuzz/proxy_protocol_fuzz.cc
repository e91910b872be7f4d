// libFuzzer target for net::parseProxyHeader. ASan and UBSan catch reads past the input and
// undefined behaviour; the checks below catch a parser that breaks its own promises:
//   - kDone: consumed <= len and <= kProxyMaxBytes; the header alone parses to the same
//     result; each shorter prefix of it is kNeedMore; written back with buildProxyV1/V2 it
//     parses to the same addresses (and, for v2, the same ALPN and authority).
//   - kNeedMore: only below kProxyMaxBytes (the parser never waits for more than a header).
//   - kInvalid: says why, consumes nothing.
//   - A v1 header is printable US-ASCII up to its CRLF (a NUL never ends a field).
//   - One more byte never reverses a decision: what was kInvalid or kDone stays so.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "net/proxy_protocol.h"

using tlsgate::net::Address;
using tlsgate::net::buildProxyV1;
using tlsgate::net::buildProxyV2;
using tlsgate::net::kProxyMaxBytes;
using tlsgate::net::parseProxyHeader;
using tlsgate::net::ProxyHeader;
using tlsgate::net::ProxyParseResult;
using tlsgate::net::ProxyParseStatus;
using tlsgate::net::ProxyV2Tlvs;

namespace {

ProxyParseResult parse(const std::string& bytes) {
  return parseProxyHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

bool sameHeader(const ProxyHeader& a, const ProxyHeader& b) {
  return a.version == b.version && a.hasAddresses == b.hasAddresses && a.source == b.source &&
         a.destination == b.destination && a.alpn == b.alpn && a.authority == b.authority;
}

void checkWrittenBack(const ProxyHeader& header) {
  if (header.version == 1) {
    if (!header.hasAddresses) return;
    const std::string line = buildProxyV1(header.source, header.destination);
    const auto again = parse(line);
    FUZZ_CHECK(again.status == ProxyParseStatus::kDone);
    FUZZ_CHECK(again.consumed == line.size());
    FUZZ_CHECK(again.header.hasAddresses);
    FUZZ_CHECK(again.header.source == header.source);
    FUZZ_CHECK(again.header.destination == header.destination);
    return;
  }
  // The TLVs fitted in the parsed header, so they fit in the rewritten one: none is left out.
  ProxyV2Tlvs tlvs;
  tlvs.alpn = header.alpn;
  tlvs.authority = header.authority;
  const std::string written = header.hasAddresses
                                  ? buildProxyV2(header.source, header.destination, tlvs)
                                  : buildProxyV2(Address{}, Address{}, tlvs);
  const auto again = parse(written);
  FUZZ_CHECK(again.status == ProxyParseStatus::kDone);
  FUZZ_CHECK(again.consumed == written.size());
  FUZZ_CHECK(sameHeader(again.header, header));
}

void checkDone(const uint8_t* data, size_t len, const ProxyParseResult& result) {
  FUZZ_CHECK(result.consumed > 0);
  FUZZ_CHECK(result.consumed <= len);
  FUZZ_CHECK(result.consumed <= kProxyMaxBytes);
  FUZZ_CHECK(result.header.version == 1 || result.header.version == 2);
  FUZZ_CHECK(result.header.hasAddresses == result.header.source.isSet());
  FUZZ_CHECK(result.header.hasAddresses == result.header.destination.isSet());
  FUZZ_CHECK(result.error.empty());

  const auto alone = parseProxyHeader(data, result.consumed);
  FUZZ_CHECK(alone.status == ProxyParseStatus::kDone);
  FUZZ_CHECK(alone.consumed == result.consumed);
  FUZZ_CHECK(sameHeader(alone.header, result.header));
  for (size_t n = 0; n < result.consumed; ++n)
    FUZZ_CHECK(parseProxyHeader(data, n).status == ProxyParseStatus::kNeedMore);
  if (result.header.version == 1)
    for (size_t i = 0; i + 2 < result.consumed; ++i) FUZZ_CHECK(data[i] >= 0x20 && data[i] < 0x7f);

  checkWrittenBack(result.header);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  const auto result = parseProxyHeader(data, len);
  switch (result.status) {
    case ProxyParseStatus::kDone:
      checkDone(data, len, result);
      break;
    case ProxyParseStatus::kNeedMore:
      FUZZ_CHECK(len < kProxyMaxBytes);
      FUZZ_CHECK(result.consumed == 0);
      break;
    case ProxyParseStatus::kInvalid:
      FUZZ_CHECK(!result.error.empty());
      FUZZ_CHECK(result.consumed == 0);
      break;
  }
  if (len > 0) {
    const auto shorter = parseProxyHeader(data, len - 1);
    if (shorter.status != ProxyParseStatus::kNeedMore) {
      FUZZ_CHECK(shorter.status == result.status);
      FUZZ_CHECK(shorter.consumed == result.consumed);
    }
  }
  return 0;
}
