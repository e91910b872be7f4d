// tls::ja4Fingerprint: FoxIO's JA4 (TLS client) over the raw lists of a ClientHello,
// checked against the examples of the specification (JA4.md) and its rules one by one.
// The hashes of lists the specification does not show were computed with Python's hashlib
// over the texts written in the comments. tls::clientHelloExtensionTypes: the extension
// types read from the ClientHello's records.
#include "tls/ja4.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tlsgate::tls {
namespace {

using std::string_literals::operator""s;

// The example of the specification, in the client's order.
const std::vector<uint16_t> kCiphers = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
                                        0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                                        0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
const std::vector<uint16_t> kExtensions = {0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017,
                                           0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
                                           0xff01, 0x000b, 0x000a, 0x0015};
const std::vector<uint16_t> kSignatureAlgorithms = {0x0403, 0x0804, 0x0401, 0x0503,
                                                    0x0805, 0x0501, 0x0806, 0x0601};
const std::vector<uint16_t> kVersions = {0x0304, 0x0303};
const std::string kAlpn = "\x02h2\x08http/1.1"s;

// The lists of one ClientHello, owned, for Ja4Input's views.
struct Hello {
  std::vector<uint16_t> ciphers = kCiphers;
  std::vector<uint16_t> extensions = kExtensions;
  std::vector<uint16_t> versions = kVersions;
  uint16_t legacyVersion = 0x0303;
  std::vector<uint16_t> signatureAlgorithms = kSignatureAlgorithms;
  std::string alpn = kAlpn;

  std::string ja4() const {
    Ja4Input in;
    in.ciphers = ciphers;
    in.extensions = extensions;
    in.supportedVersions = versions;
    in.legacyVersion = legacyVersion;
    in.signatureAlgorithms = signatureAlgorithms;
    in.alpn = alpn;
    return ja4Fingerprint(in);
  }
};

void erase(std::vector<uint16_t>& list, uint16_t value) {
  std::erase(list, value);
}

// The ALPN characters of a fingerprint whose first ALPN protocol is `protocol`.
std::string alpnChars(const std::string& protocol) {
  Hello h;
  h.alpn = std::string(1, static_cast<char>(protocol.size())) + protocol;
  return h.ja4().substr(8, 2);
}

TEST(Ja4, ThePublishedExample) {
  // JA4.md: 002f,...,cca9 = 8daaf6152771; the sorted extensions "_" the signature
  // algorithms = e5627efa2ab1.
  EXPECT_EQ(Hello{}.ja4(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
}

TEST(Ja4, WithoutSignatureAlgorithmsTheExtensionTextEndsWithoutUnderscore) {
  // JA4.md: "0005,000a,...,4469,ff01 = 6d807ffa2a79".
  Hello h;
  h.signatureAlgorithms.clear();
  EXPECT_EQ(h.ja4(), "t13d1516h2_8daaf6152771_6d807ffa2a79");
}

TEST(Ja4, GreaseCountsNowhere) {
  Hello h;
  h.ciphers.insert(h.ciphers.begin(), 0x4a4a);
  h.extensions.insert(h.extensions.begin(), 0x0a0a);
  h.extensions.push_back(0xfafa);
  h.versions.insert(h.versions.begin(), 0x8a8a);
  h.signatureAlgorithms.insert(h.signatureAlgorithms.begin() + 3, 0x1a1a);
  EXPECT_EQ(h.ja4(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
}

TEST(Ja4, GreaseValuesAreExactlyTheSixteenReservedOnes) {
  int count = 0;
  for (uint32_t v = 0; v <= 0xffff; ++v) count += isGrease(static_cast<uint16_t>(v));
  EXPECT_EQ(count, 16);
  EXPECT_TRUE(isGrease(0x0a0a));
  EXPECT_TRUE(isGrease(0xdada));
  EXPECT_FALSE(isGrease(0x0a1a));
  EXPECT_FALSE(isGrease(0x0b0b));
}

TEST(Ja4, NoServerNameIsI) {
  // SNI counts among the extensions but is left out of JA4_c: only the count changes.
  Hello h;
  erase(h.extensions, 0x0000);
  EXPECT_EQ(h.ja4(), "t13i1515h2_8daaf6152771_e5627efa2ab1");
}

TEST(Ja4, NoAlpnIs00) {
  Hello h;
  erase(h.extensions, 0x0010);
  h.alpn.clear();
  EXPECT_EQ(h.ja4(), "t13d151500_8daaf6152771_e5627efa2ab1");
}

TEST(Ja4, AlpnCharacters) {
  EXPECT_EQ(alpnChars("http/1.1"), "h1");
  EXPECT_EQ(alpnChars("h2"), "h2");
  EXPECT_EQ(alpnChars("h"), "hh");  // one character is the first and the last
  EXPECT_EQ(alpnChars(""), "00");   // the first protocol is empty
  // JA4.md: a first or last byte that is not alphanumeric: the hex digits instead.
  EXPECT_EQ(alpnChars("\xab"), "ab");
  EXPECT_EQ(alpnChars("\xab\xcd"), "ad");
  EXPECT_EQ(alpnChars("\x30\xab"), "3b");
  EXPECT_EQ(alpnChars("\x30\x31\xab\xcd"), "3d");
  EXPECT_EQ(alpnChars("\x30\xab\xcd\x31"), "01");
  EXPECT_EQ(alpnChars("-x"), "28");  // punctuation is not alphanumeric: "2d78"
}

TEST(Ja4, OnlyTheFirstAlpnProtocolCounts) {
  Hello h;
  h.alpn = "\x08http/1.1\x02h2"s;
  EXPECT_EQ(h.ja4().substr(8, 2), "h1");
  h.alpn = "\x05"s + "h2";  // a length past the end: what is there
  EXPECT_EQ(h.ja4().substr(8, 2), "h2");
}

TEST(Ja4, VersionIsTheHighestSupportedVersionElseTheLegacyOne) {
  Hello h;
  h.versions = {0x0303, 0x0304, 0x0302};
  EXPECT_EQ(h.ja4().substr(0, 3), "t13");
  h.versions = {0x3a3a};  // GREASE only: as if there were none
  EXPECT_EQ(h.ja4().substr(0, 3), "t12");
  h.versions.clear();
  const std::vector<std::pair<uint16_t, std::string>> legacy = {
      {0x0303, "12"}, {0x0302, "11"}, {0x0301, "10"}, {0x0300, "s3"},
      {0x0002, "s2"}, {0x0305, "00"}, {0x0000, "00"}};
  for (const auto& [version, code] : legacy) {
    h.legacyVersion = version;
    EXPECT_EQ(h.ja4().substr(1, 2), code) << std::hex << version;
  }
}

TEST(Ja4, Tls12OnlyClient) {
  // No supported_versions (0x002b) and no TLS 1.3 suites.
  Hello h;
  h.versions.clear();
  erase(h.extensions, 0x002b);
  for (uint16_t tls13 : {0x1301, 0x1302, 0x1303}) erase(h.ciphers, tls13);
  // 002f,0035,009c,009d,c013,c014,c02b,c02c,c02f,c030,cca8,cca9 = d34a8e72043a;
  // 0005,000a,000b,000d,0012,0015,0017,001b,0023,002d,0033,4469,ff01_0403,...,0601
  // = 8d4582d59f63.
  EXPECT_EQ(h.ja4(), "t12d1215h2_d34a8e72043a_8d4582d59f63");
}

TEST(Ja4, EmptyListsHashToZeros) {
  Hello h;
  h.ciphers = {0x2a2a};  // GREASE alone is no cipher
  EXPECT_EQ(h.ja4(), "t13d0016h2_000000000000_e5627efa2ab1");
  // Only SNI and ALPN: the sorted extension list is empty.
  h.ciphers = {0x1301};
  h.extensions = {0x0000, 0x0010};
  EXPECT_EQ(h.ja4(), "t13d0102h2_0f2cb44170f4_000000000000");  // "1301" = 0f2cb44170f4
  h.extensions.clear();
  h.alpn.clear();
  h.signatureAlgorithms.clear();
  EXPECT_EQ(h.ja4(), "t13i010000_0f2cb44170f4_000000000000");
}

TEST(Ja4, CountsStopAt99AndLongListsHashWhole) {
  // 150 suites and 150 extensions: past the inline buffers, so the heap path is taken.
  Hello h;
  h.ciphers.clear();
  h.extensions.clear();
  for (uint16_t i = 150; i-- > 0;) {  // reverse order: sorting matters
    h.ciphers.push_back(static_cast<uint16_t>(0x0100 + i));
    h.extensions.push_back(static_cast<uint16_t>(0x0200 + i));
  }
  h.signatureAlgorithms = {0x0403};
  h.alpn.clear();
  // 0100,0101,...,0195 = a3abd2455589; 0200,...,0295_0403 = a72dd81ddaee.
  EXPECT_EQ(h.ja4(), "t13i999900_a3abd2455589_a72dd81ddaee");
}

TEST(Ja4, SignatureAlgorithmsKeepTheClientsOrder) {
  Hello h;
  h.extensions = {0x000d};
  h.signatureAlgorithms = {0x0403};
  h.alpn.clear();
  EXPECT_EQ(h.ja4().substr(24), "79c50902419d");  // "000d_0403"
  h.signatureAlgorithms = {0x0804, 0x0403};
  const std::string swapped = h.ja4().substr(24);
  h.signatureAlgorithms = {0x0403, 0x0804};
  EXPECT_NE(h.ja4().substr(24), swapped);
}

// --- the extension types, from the records the client sent ------------------------------

std::string u16(size_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// A ClientHello handshake message with one cipher suite and these extensions (type, body);
// no extension block at all when `extensions` is nullptr.
std::string helloMessage(const std::vector<std::pair<uint16_t, std::string>>* extensions) {
  std::string body =
      "\x03\x03"s + std::string(32, '\x11') + "\x00"s + u16(2) + u16(0x1301) + "\x01\x00"s;
  if (extensions) {
    std::string block;
    for (const auto& [type, data] : *extensions) block += u16(type) + u16(data.size()) + data;
    body += u16(block.size()) + block;
  }
  return "\x01\x00"s + u16(body.size()) + body;
}

// `message` in handshake records of at most `chunk` bytes each.
std::string inRecords(const std::string& message, size_t chunk) {
  std::string out;
  for (size_t pos = 0; pos < message.size(); pos += chunk) {
    const std::string part = message.substr(pos, chunk);
    out += "\x16\x03\x01"s + u16(part.size()) + part;
  }
  return out;
}

const std::vector<std::pair<uint16_t, std::string>> kSomeExtensions = {
    {0x3a3a, ""},  // GREASE
    {0x0000, "\x00\x09\x00\x00\x06" + "a.test"s},
    {0x001b, "\x02\x00\x02"s},    // compress_certificate: unknown to OpenSSL 3.0
    {0x4469, "\x00\x03\x02h2"s},  // ALPS: unknown to OpenSSL
    {0x002b, "\x02\x03\x04"s},
    {0xfe0d, std::string(40, 'x')},  // ECH: unknown to OpenSSL 3.0
    {0xdada, "\x00"s},               // GREASE
};
const std::vector<uint16_t> kSomeTypes = {0x3a3a, 0x0000, 0x001b, 0x4469, 0x002b, 0xfe0d, 0xdada};

std::vector<uint16_t> typesOf(std::string_view records, bool& ok) {
  U16Values out;
  ok = clientHelloExtensionTypes(records, out);
  return {out.values().begin(), out.values().end()};
}

TEST(Ja4ExtensionTypes, EveryTypeInOrderGreaseAndUnknownIncluded) {
  bool ok = false;
  EXPECT_EQ(typesOf(inRecords(helloMessage(&kSomeExtensions), 16384), ok), kSomeTypes);
  EXPECT_TRUE(ok);
}

TEST(Ja4ExtensionTypes, AClientHelloOverManyRecords) {
  // As small as records go (a large ClientHello is cut at 16 KiB; a client may cut anywhere).
  for (size_t chunk : {1, 2, 3, 7, 100}) {
    bool ok = false;
    EXPECT_EQ(typesOf(inRecords(helloMessage(&kSomeExtensions), chunk), ok), kSomeTypes) << chunk;
    EXPECT_TRUE(ok) << chunk;
  }
}

TEST(Ja4ExtensionTypes, WhatFollowsTheClientHelloIsNotRead) {
  bool ok = false;
  const std::string records =
      inRecords(helloMessage(&kSomeExtensions), 50) + "\x14\x03\x03\x00\x01\x01"s;
  EXPECT_EQ(typesOf(records, ok), kSomeTypes);
  EXPECT_TRUE(ok);
}

TEST(Ja4ExtensionTypes, NoExtensionBlockIsNoExtensions) {
  bool ok = false;
  EXPECT_TRUE(typesOf(inRecords(helloMessage(nullptr), 16384), ok).empty());
  EXPECT_TRUE(ok);
  const std::vector<std::pair<uint16_t, std::string>> none;
  EXPECT_TRUE(typesOf(inRecords(helloMessage(&none), 16384), ok).empty());
  EXPECT_TRUE(ok);
}

TEST(Ja4ExtensionTypes, AnythingButAWholeClientHelloIsRefused) {
  const std::string message = helloMessage(&kSomeExtensions);
  const std::string whole = inRecords(message, 16384);
  bool ok = true;
  typesOf(whole.substr(0, whole.size() - 1), ok);  // one byte short
  EXPECT_FALSE(ok);
  typesOf(inRecords(message, 10).substr(0, 200), ok);  // records still to come
  EXPECT_FALSE(ok);
  typesOf("", ok);
  EXPECT_FALSE(ok);
  std::string appData = whole;
  appData[0] = '\x17';  // not a handshake record
  typesOf(appData, ok);
  EXPECT_FALSE(ok);
  std::string serverHello = whole;
  serverHello[5] = '\x02';
  typesOf(serverHello, ok);
  EXPECT_FALSE(ok);
  // The last extension says it is longer than the block.
  std::string overlong = message;
  overlong[overlong.size() - 2] = '\x05';
  typesOf(inRecords(overlong, 16384), ok);
  EXPECT_FALSE(ok);
  // The message length disagrees with the block.
  std::string shortLength = message;
  shortLength[3] = static_cast<char>(shortLength[3] - 1);
  typesOf(inRecords(shortLength, 16384), ok);
  EXPECT_FALSE(ok);
}

}  // namespace
}  // namespace tlsgate::tls
