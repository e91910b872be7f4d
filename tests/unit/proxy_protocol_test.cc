// net::parseProxyHeader, buildProxyV1 and buildProxyV2: every parse status for v1 and v2,
// every prefix of a valid header, the strictness rules, and writer → parser round trips.
// The v2 inputs are assembled byte by byte here, not with the writer, so that a writer bug
// cannot hide a parser bug.
#include "net/proxy_protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace tlsgate::net {

// Failure messages name the status instead of dumping its bytes.
void PrintTo(ProxyParseStatus status, std::ostream* os) {
  switch (status) {
    case ProxyParseStatus::kNeedMore:
      *os << "kNeedMore";
      return;
    case ProxyParseStatus::kInvalid:
      *os << "kInvalid";
      return;
    case ProxyParseStatus::kDone:
      *os << "kDone";
      return;
  }
}

namespace {

constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::string_view kTlsClientHelloStart("\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 9);

ProxyParseResult parse(std::string_view bytes) {
  return parseProxyHeader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Address address(const char* text) {
  auto a = parseAddress(text, true);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(Address{});
}

std::string be16(size_t value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value & 0xFF)};
}

std::string tlv(uint8_t type, std::string_view value) {
  return static_cast<char>(type) + be16(value.size()) + std::string(value);
}

// A v2 header with the given version/command and family bytes; the length is the payload's.
std::string v2(uint8_t versionCommand, uint8_t family, std::string_view payload) {
  return std::string(kV2Signature) + static_cast<char>(versionCommand) + static_cast<char>(family) +
         be16(payload.size()) + std::string(payload);
}

// 192.0.2.1:56324 → 198.51.100.7:443
const std::string kTcp4Block("\xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x01\xbb", 12);

// 2001:db8::1:8080 → 2001:db8::2:443
std::string tcp6Block() {
  std::string block;
  for (uint8_t last : {0x01, 0x02}) {
    block += std::string("\x20\x01\x0d\xb8", 4) + std::string(11, '\0');
    block += static_cast<char>(last);
  }
  return block + be16(8080) + be16(443);
}

// Appends a CRC32C TLV to a complete v2 header, fixing its length and filling the checksum.
std::string withCrc32c(std::string header) {
  header += tlv(0x03, std::string(4, '\0'));
  const std::string length = be16(header.size() - 16);
  header.replace(14, 2, length);
  const uint32_t crc = crc32c(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  for (int i = 0; i < 4; ++i)
    header[header.size() - 4 + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xFF);
  return header;
}

void expectInvalid(std::string_view bytes, const std::string& why) {
  auto r = parse(bytes);
  EXPECT_EQ(r.status, ProxyParseStatus::kInvalid) << why;
  EXPECT_FALSE(r.error.empty()) << why;
  EXPECT_EQ(r.consumed, 0u) << why;
}

void expectEveryPrefixNeedsMore(std::string_view header) {
  for (size_t n = 0; n < header.size(); ++n) {
    auto r = parse(header.substr(0, n));
    EXPECT_EQ(r.status, ProxyParseStatus::kNeedMore) << "prefix of " << n << " bytes: " << r.error;
  }
  EXPECT_EQ(parse(header).status, ProxyParseStatus::kDone);
}

TEST(ProxyProtocolCrc32c, MatchesTheStandardCheckValue) {
  const std::string_view check = "123456789";
  const auto* bytes = reinterpret_cast<const uint8_t*>(check.data());
  EXPECT_EQ(crc32c(bytes, check.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(bytes + 4, 5, crc32c(bytes, 4)), 0xE3069283u);
  EXPECT_EQ(crc32c(bytes, 0), 0u);
}

TEST(ProxyProtocolSignature, DecidesOnTheFirstByteThatProvesIt) {
  EXPECT_EQ(parse("").status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse("P").status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse("PROX").status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse("PROXY").status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse("\r\n\r\n").status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse(kV2Signature.substr(0, 11)).status, ProxyParseStatus::kNeedMore);
  expectInvalid(kTlsClientHelloStart.substr(0, 1), "a ClientHello's first byte");
  expectInvalid(kTlsClientHelloStart, "a ClientHello");
  expectInvalid("PROXX", "v1 signature broken at its fifth byte");
  expectInvalid("PROXYTCP4", "no space after PROXY");
  expectInvalid("proxy TCP4 ", "lowercase v1 signature");
  expectInvalid(std::string_view("\r\n\r\n\x01", 5), "v2 signature broken at its fifth byte");
  expectInvalid("GET / HTTP/1.1\r\n", "plain HTTP");
}

TEST(ProxyProtocolV1, ParsesTcp4) {
  const std::string header = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, header.size());
  EXPECT_EQ(r.header.version, 1);
  EXPECT_TRUE(r.header.hasAddresses);
  EXPECT_EQ(r.header.source.family(), AF_INET);
  EXPECT_EQ(r.header.source.toString(), "192.168.0.1:56324");
  EXPECT_EQ(r.header.destination.toString(), "192.168.0.11:443");
  EXPECT_TRUE(r.header.alpn.empty());
  EXPECT_TRUE(r.header.authority.empty());
}

TEST(ProxyProtocolV1, ParsesTcp6AndPortZero) {
  auto r = parse("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n");
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_TRUE(r.header.hasAddresses);
  EXPECT_EQ(r.header.source.family(), AF_INET6);
  EXPECT_EQ(r.header.source.toString(), "[2001:db8::1]:0");
  EXPECT_EQ(r.header.destination.toString(), "[::ffff:10.0.0.1]:65535");
}

TEST(ProxyProtocolV1, UnknownCarriesNoAddresses) {
  for (std::string header : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
                             "PROXY UNKNOWN whatever  the proxy sends\r\n"}) {
    auto r = parse(header);
    ASSERT_EQ(r.status, ProxyParseStatus::kDone) << header << r.error;
    EXPECT_EQ(r.consumed, header.size());
    EXPECT_EQ(r.header.version, 1);
    EXPECT_FALSE(r.header.hasAddresses);
    EXPECT_FALSE(r.header.source.isSet());
  }
}

TEST(ProxyProtocolV1, EveryPrefixNeedsMore) {
  expectEveryPrefixNeedsMore("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  expectEveryPrefixNeedsMore("PROXY TCP6 2001:db8::1 2001:db8::2 8080 443\r\n");
  expectEveryPrefixNeedsMore("PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolV1, ConsumesExactlyTheHeaderWhenTlsFollows) {
  const std::string header = "PROXY TCP4 10.1.2.3 10.4.5.6 40000 443\r\n";
  auto r = parse(header + std::string(kTlsClientHelloStart));
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, header.size());
  EXPECT_EQ(r.header.source.toString(), "10.1.2.3:40000");
}

TEST(ProxyProtocolV1, RejectsMalformedLines) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "octet out of range"},
      {"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "three octets"},
      {"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "leading zero in an octet"},
      {"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "IPv6 source in TCP4"},
      {"PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "IPv6 destination in TCP4"},
      {"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "IPv4 source in TCP6"},
      {"PROXY TCP6 ::1 2001:db8::g 1 2\r\n", "bad IPv6 destination"},
      {"PROXY TCP4 example.com 5.6.7.8 1 2\r\n", "a host name"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n", "source port 65536"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "destination port 65536"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n", "port with a sign"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 -1 443\r\n", "negative port"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 8a 443\r\n", "port with a letter"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 000080 443\r\n", "port of six digits"},
      {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "double space between addresses"},
      {"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "double space after PROXY"},
      {"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "double space after the protocol"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "trailing space"},
      {"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "tab as separator"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "missing destination port"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "a fifth field"},
      {"PROXY TCP4\r\n", "no fields at all"},
      {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"},
      {"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "lowercase protocol"},
      {"PROXY UNKNOWNX\r\n", "UNKNOWN glued to more text"},
      {"PROXY \r\n", "empty protocol"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "CR without LF"},
  };
  for (const auto& [line, why] : cases) expectInvalid(line, why);
}

// inet_pton stops at a NUL: "1.1.1.1\0..." must not pass for client 1.1.1.1.
TEST(ProxyProtocolV1, RejectsEveryByteOutsideTheGrammar) {
  using namespace std::string_literals;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PROXY TCP4 1.1.1.1\0 5.6.7.8 1 2\r\n"s, "NUL after the source address"},
      {"PROXY TCP4 1.1.1.1\0x 5.6.7.8 1 2\r\n"s, "NUL inside the source field"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8\0 1 2\r\n"s, "NUL after the destination address"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n"s, "NUL before the CRLF"},
      {"PROXY UNKNOWN \0\r\n"s, "NUL after UNKNOWN"},
      {"PROXY UNKNOWN x\ty\r\n", "tab after UNKNOWN"},
      {"PROXY UNKNOWN \x01\r\n", "control byte after UNKNOWN"},
      {"PROXY UNKNOWN \x7f\r\n", "DEL after UNKNOWN"},
      {"PROXY UNKNOWN \xc3\xa9\r\n", "non-ASCII after UNKNOWN"},
      {"PROXY TCP6 ::1\x1b 2001:db8::1 1 2\r\n", "escape byte in an address"},
  };
  for (const auto& [line, why] : cases) expectInvalid(line, why);
  // Refused as soon as the byte arrives, not only once the CRLF does.
  expectInvalid("PROXY TCP4 1.1.1.1\0"s, "NUL without a CRLF yet");
}

TEST(ProxyProtocolV1, CrlfMustEndWithin107Bytes) {
  // "PROXY UNKNOWN " is 14 bytes; the padding brings the line to exact lengths.
  const auto unknownLine = [](size_t bytesBeforeCrlf) {
    return "PROXY UNKNOWN " + std::string(bytesBeforeCrlf - 14, 'x');
  };
  auto longest = parse(unknownLine(105) + "\r\n");
  ASSERT_EQ(longest.status, ProxyParseStatus::kDone) << longest.error;
  EXPECT_EQ(longest.consumed, kProxyV1MaxBytes);

  expectInvalid(unknownLine(106) + "\r\n", "CRLF ending at byte 108");
  expectInvalid(unknownLine(107), "107 bytes without CRLF");
  expectInvalid(unknownLine(300), "300 bytes without CRLF");
  EXPECT_EQ(parse(unknownLine(106)).status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parse(unknownLine(105) + "\r").status, ProxyParseStatus::kNeedMore);
}

TEST(ProxyProtocolV2, ParsesTcp4) {
  const std::string header = v2(0x21, 0x11, kTcp4Block);
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, 28u);
  EXPECT_EQ(r.header.version, 2);
  EXPECT_TRUE(r.header.hasAddresses);
  EXPECT_EQ(r.header.source.toString(), "192.0.2.1:56324");
  EXPECT_EQ(r.header.destination.toString(), "198.51.100.7:443");
  EXPECT_TRUE(r.header.alpn.empty());
  EXPECT_TRUE(r.header.authority.empty());
}

TEST(ProxyProtocolV2, ParsesTcp6) {
  auto r = parse(v2(0x21, 0x21, tcp6Block()));
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, 52u);
  EXPECT_TRUE(r.header.hasAddresses);
  EXPECT_EQ(r.header.source.toString(), "[2001:db8::1]:8080");
  EXPECT_EQ(r.header.destination.toString(), "[2001:db8::2]:443");
}

TEST(ProxyProtocolV2, LocalUnspecAndUnixCarryNoAddresses) {
  const std::vector<std::pair<std::string, size_t>> cases = {
      {v2(0x20, 0x00, ""), 16},                           // LOCAL, a health check
      {v2(0x20, 0x11, kTcp4Block), 28},                   // LOCAL ignores addresses
      {v2(0x21, 0x00, ""), 16},                           // PROXY over UNSPEC
      {v2(0x21, 0x31, std::string(216, '/')), 16 + 216},  // PROXY over a UNIX socket
  };
  for (const auto& [header, size] : cases) {
    auto r = parse(header);
    ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
    EXPECT_EQ(r.consumed, size);
    EXPECT_EQ(r.header.version, 2);
    EXPECT_FALSE(r.header.hasAddresses);
    EXPECT_FALSE(r.header.source.isSet());
    EXPECT_FALSE(r.header.destination.isSet());
  }
}

TEST(ProxyProtocolV2, KeepsAlpnAndAuthoritySkipsOtherTlvs) {
  const std::string ssl = std::string("\x01\0\0\0\0", 5) + tlv(0x21, "TLSv1.3");
  const std::string header =
      v2(0x21, 0x11,
         kTcp4Block + tlv(0x04, "pad") + tlv(0x01, "h2") + tlv(0xE0, "private") +
             tlv(0x02, "www.example.com") + tlv(0x20, ssl) + tlv(0x05, ""));
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, header.size());
  EXPECT_EQ(r.header.alpn, "h2");
  EXPECT_EQ(r.header.authority, "www.example.com");
  EXPECT_EQ(r.header.source.toString(), "192.0.2.1:56324");
}

TEST(ProxyProtocolV2, EveryPrefixNeedsMore) {
  expectEveryPrefixNeedsMore(v2(0x21, 0x11, kTcp4Block));
  expectEveryPrefixNeedsMore(v2(0x20, 0x00, ""));
  expectEveryPrefixNeedsMore(
      withCrc32c(v2(0x21, 0x21, tcp6Block() + tlv(0x01, "http/1.1") + tlv(0x02, "a.test"))));
}

TEST(ProxyProtocolV2, ConsumesExactlyTheHeaderWhenTlsFollows) {
  const std::string header = v2(0x21, 0x11, kTcp4Block + tlv(0x02, "sni.test"));
  auto r = parse(header + std::string(kTlsClientHelloStart));
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, header.size());
  EXPECT_EQ(r.header.authority, "sni.test");
}

TEST(ProxyProtocolV2, AcceptsExactlyTheMaximumPayload) {
  const std::string header = v2(0x21, 0x00, tlv(0x04, std::string(kProxyV2MaxPayload - 3, 0)));
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, kProxyMaxBytes);
  expectInvalid(v2(0x21, 0x00, tlv(0x04, std::string(kProxyV2MaxPayload - 2, 0))),
                "one byte over the cap");
  // The length field alone decides: no need to wait for 2049 bytes to reject them.
  expectInvalid(v2(0x21, 0x00, "").replace(14, 2, be16(kProxyV2MaxPayload + 1)),
                "announced length over the cap");
}

TEST(ProxyProtocolV2, VerifiesCrc32c) {
  const std::string good = withCrc32c(v2(0x21, 0x11, kTcp4Block + tlv(0x01, "h2")));
  auto r = parse(good);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, good.size());
  EXPECT_EQ(r.header.alpn, "h2");

  std::string spoofedSource = good;
  spoofedSource[16] ^= 0x01;
  expectInvalid(spoofedSource, "address changed after the checksum");
  std::string badChecksum = good;
  badChecksum.back() ^= 0x80;
  expectInvalid(badChecksum, "checksum changed");
  expectInvalid(v2(0x21, 0x11, kTcp4Block + tlv(0x03, "abc")), "3-byte CRC32C TLV");
}

TEST(ProxyProtocolV2, RejectsMalformedHeaders) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {v2(0x11, 0x11, kTcp4Block), "version 1 in a v2 signature"},
      {v2(0x31, 0x11, kTcp4Block), "version 3"},
      {v2(0x22, 0x11, kTcp4Block), "command 2"},
      {v2(0x2F, 0x11, kTcp4Block), "command 15"},
      {v2(0x21, 0x12, kTcp4Block), "UDP over IPv4"},
      {v2(0x21, 0x22, tcp6Block()), "UDP over IPv6"},
      {v2(0x21, 0x32, std::string(216, 0)), "UNIX datagram"},
      {v2(0x20, 0x12, kTcp4Block), "LOCAL with UDP"},
      {v2(0x21, 0x41, kTcp4Block), "address family 4"},
      {v2(0x21, 0x13, kTcp4Block), "transport 3"},
      {v2(0x21, 0x01, ""), "UNSPEC family with STREAM"},
      {v2(0x21, 0x11, kTcp4Block.substr(0, 11)), "length short of the IPv4 block"},
      {v2(0x21, 0x21, kTcp4Block), "length short of the IPv6 block"},
      {v2(0x21, 0x31, std::string(215, 0)), "length short of the UNIX block"},
      {v2(0x21, 0x11, kTcp4Block + "\x01"), "one byte of TLV header"},
      {v2(0x21, 0x11, kTcp4Block + std::string("\x01\x00", 2)), "two bytes of TLV header"},
      {v2(0x21, 0x11, kTcp4Block + tlv(0x02, "abc").substr(0, 5)), "TLV value cut short"},
      {v2(0x21, 0x11, kTcp4Block + tlv(0x01, "h2").replace(1, 2, be16(0xFFFF))),
       "TLV length of 65535"},
      {v2(0x21, 0x11, kTcp4Block + tlv(0x02, "a.test") + tlv(0x02, "b.test")),
       "two AUTHORITY TLVs"},
      {v2(0x21, 0x11, kTcp4Block + tlv(0x01, "h2") + tlv(0x01, "http/1.1")), "two ALPN TLVs"},
  };
  for (const auto& [header, why] : cases) expectInvalid(header, why);
}

TEST(ProxyProtocolV2, RejectsBadFixedBytesBeforeTheRestArrives) {
  expectInvalid(v2(0x11, 0x11, kTcp4Block).substr(0, 13), "version, 13 bytes received");
  expectInvalid(v2(0x23, 0x11, kTcp4Block).substr(0, 13), "command, 13 bytes received");
  expectInvalid(v2(0x21, 0x12, kTcp4Block).substr(0, 14), "UDP, 14 bytes received");
}

// Walks a v2 payload's TLVs (after the address block) into type → value.
std::vector<std::pair<uint8_t, std::string>> tlvsOf(std::string_view payload) {
  std::vector<std::pair<uint8_t, std::string>> out;
  while (payload.size() >= 3) {
    const size_t len = (static_cast<uint8_t>(payload[1]) << 8) | static_cast<uint8_t>(payload[2]);
    out.emplace_back(static_cast<uint8_t>(payload[0]), std::string(payload.substr(3, len)));
    payload.remove_prefix(std::min(payload.size(), 3 + len));
  }
  return out;
}

TEST(ProxyProtocolBuild, V2RoundTripIpv4WithTlvs) {
  const ProxyV2Tlvs tlvs{"h2", "www.example.com", "TLSv1.3", "TLS_AES_128_GCM_SHA256"};
  const std::string header =
      buildProxyV2(address("203.0.113.9:1111"), address("10.0.0.1:443"), tlvs);
  ASSERT_GE(header.size(), 28u);
  EXPECT_EQ(header.substr(0, 12), kV2Signature);
  EXPECT_EQ(header[12], '\x21');
  EXPECT_EQ(header[13], '\x11');
  EXPECT_EQ(header.substr(14, 2), be16(header.size() - 16));

  const auto written = tlvsOf(std::string_view(header).substr(28));
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[0], std::make_pair(uint8_t{0x01}, std::string("h2")));
  EXPECT_EQ(written[1], std::make_pair(uint8_t{0x02}, std::string("www.example.com")));
  EXPECT_EQ(written[2].first, 0x20);
  // No verified client certificate: client flags PP2_CLIENT_SSL only, verify non-zero.
  EXPECT_EQ(written[2].second, std::string("\x01\0\0\0\x01", 5) + tlv(0x21, "TLSv1.3") +
                                   tlv(0x23, "TLS_AES_128_GCM_SHA256"));

  auto r = parse(header + std::string(kTlsClientHelloStart));
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, header.size());
  EXPECT_EQ(r.header.version, 2);
  EXPECT_TRUE(r.header.hasAddresses);
  EXPECT_EQ(r.header.source.toString(), "203.0.113.9:1111");
  EXPECT_EQ(r.header.destination.toString(), "10.0.0.1:443");
  EXPECT_EQ(r.header.alpn, "h2");
  EXPECT_EQ(r.header.authority, "www.example.com");
}

TEST(ProxyProtocolBuild, V2RoundTripIpv6) {
  const ProxyV2Tlvs tlvs{.alpn = "", .authority = "v6.example", .sslVersion = "", .sslCipher = ""};
  const std::string header =
      buildProxyV2(address("[2001:db8::42]:50000"), address("[2001:db8::1]:8443"), tlvs);
  EXPECT_EQ(header[13], '\x21');
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, header.size());
  EXPECT_EQ(r.header.source, address("[2001:db8::42]:50000"));
  EXPECT_EQ(r.header.destination, address("[2001:db8::1]:8443"));
  EXPECT_EQ(r.header.alpn, "");
  EXPECT_EQ(r.header.authority, "v6.example");
}

TEST(ProxyProtocolBuild, V2WritesOnlyTheTlvsThatAreSet) {
  const std::string bare = buildProxyV2(address("1.2.3.4:1"), address("5.6.7.8:2"), {});
  EXPECT_EQ(bare, v2(0x21, 0x11, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\0\x01\0\x02", 12)));

  ProxyV2Tlvs cipherOnly;
  cipherOnly.sslCipher = "TLS_AES_128_GCM_SHA256";
  EXPECT_EQ(buildProxyV2(address("1.2.3.4:1"), address("5.6.7.8:2"), cipherOnly), bare);

  ProxyV2Tlvs versionOnly;
  versionOnly.sslVersion = "TLSv1.2";
  const std::string header = buildProxyV2(address("1.2.3.4:1"), address("5.6.7.8:2"), versionOnly);
  const auto written = tlvsOf(std::string_view(header).substr(28));
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].second, std::string("\x01\0\0\0\x01", 5) + tlv(0x21, "TLSv1.2"));
}

TEST(ProxyProtocolBuild, V2SslTlvSaysWhenTheClientCertificateVerified) {
  ProxyV2Tlvs tlvs;
  tlvs.sslVersion = "TLSv1.3";
  tlvs.clientCertVerified = true;
  const std::string header = buildProxyV2(address("1.2.3.4:1"), address("5.6.7.8:2"), tlvs);
  const auto written = tlvsOf(std::string_view(header).substr(28));
  ASSERT_EQ(written.size(), 1u);
  // PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN, verify 0 (success).
  EXPECT_EQ(written[0].second, std::string("\x03\0\0\0\0", 5) + tlv(0x21, "TLSv1.3"));
}

TEST(ProxyProtocolBuild, V2MapsIpv4IntoIpv6WhenFamiliesDiffer) {
  const std::string header =
      buildProxyV2(address("192.0.2.1:1234"), address("[2001:db8::1]:443"), {});
  EXPECT_EQ(header[13], '\x21');
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.header.source.toString(), "[::ffff:192.0.2.1]:1234");
  EXPECT_EQ(r.header.destination.toString(), "[2001:db8::1]:443");
}

TEST(ProxyProtocolBuild, V2WithoutIpAddressesIsUnspecAndKeepsTlvs) {
  ProxyV2Tlvs tlvs;
  tlvs.authority = "no-address.test";
  const std::string header = buildProxyV2(Address{}, address("5.6.7.8:2"), tlvs);
  EXPECT_EQ(header[13], '\x00');
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_FALSE(r.header.hasAddresses);
  EXPECT_EQ(r.header.authority, "no-address.test");
}

TEST(ProxyProtocolBuild, V2LeavesOutATlvOverTheCap) {
  ProxyV2Tlvs tlvs;
  tlvs.alpn = "h2";
  tlvs.authority = std::string(kProxyV2MaxPayload, 'a');
  const std::string header = buildProxyV2(address("1.2.3.4:1"), address("5.6.7.8:2"), tlvs);
  auto r = parse(header);
  ASSERT_EQ(r.status, ProxyParseStatus::kDone) << r.error;
  EXPECT_EQ(r.header.alpn, "h2");
  EXPECT_EQ(r.header.authority, "");
}

TEST(ProxyProtocolBuild, V1WritesTheSpecLine) {
  EXPECT_EQ(buildProxyV1(address("1.2.3.4:1111"), address("5.6.7.8:443")),
            "PROXY TCP4 1.2.3.4 5.6.7.8 1111 443\r\n");
  EXPECT_EQ(buildProxyV1(address("[2001:db8::1]:1111"), address("[::1]:443")),
            "PROXY TCP6 2001:db8::1 ::1 1111 443\r\n");
  EXPECT_EQ(buildProxyV1(address("1.2.3.4:1111"), address("[::1]:443")),
            "PROXY TCP6 ::ffff:1.2.3.4 ::1 1111 443\r\n");
  EXPECT_EQ(buildProxyV1(Address{}, address("5.6.7.8:443")), "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolBuild, V1RoundTrips) {
  const std::vector<std::pair<const char*, const char*>> pairs = {
      {"1.2.3.4:1111", "5.6.7.8:443"},
      {"[2001:db8::1]:0", "[2001:db8::2]:65535"},
      {"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535",  // the longest line we can write
       "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
  };
  for (const auto& [from, to] : pairs) {
    const std::string line = buildProxyV1(address(from), address(to));
    EXPECT_LE(line.size(), kProxyV1MaxBytes);
    auto r = parse(line + std::string(kTlsClientHelloStart));
    ASSERT_EQ(r.status, ProxyParseStatus::kDone) << line << r.error;
    EXPECT_EQ(r.consumed, line.size());
    EXPECT_EQ(r.header.version, 1);
    EXPECT_EQ(r.header.source, address(from));
    EXPECT_EQ(r.header.destination, address(to));
  }
}

}  // namespace
}  // namespace tlsgate::net
