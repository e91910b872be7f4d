#include "net/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace tlsgate::net {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::array<uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr size_t kV2FixedBytes = 16;  // signature, version/command, family, length

constexpr uint8_t kV2VersionAndProxy = 0x21;
constexpr uint8_t kV2CommandLocal = 0x0;
constexpr uint8_t kV2CommandProxy = 0x1;

constexpr uint8_t kFamilyUnspec = 0x00;
constexpr uint8_t kFamilyTcp4 = 0x11;
constexpr uint8_t kFamilyTcp6 = 0x21;
constexpr uint8_t kFamilyUnixStream = 0x31;

constexpr uint8_t kTlvAlpn = 0x01;
constexpr uint8_t kTlvAuthority = 0x02;
constexpr uint8_t kTlvCrc32c = 0x03;
constexpr uint8_t kTlvSsl = 0x20;
constexpr uint8_t kSubTlvSslVersion = 0x21;
constexpr uint8_t kSubTlvSslCipher = 0x23;
constexpr uint8_t kSslClientSsl = 0x01;       // PP2_CLIENT_SSL
constexpr uint8_t kSslClientCertConn = 0x02;  // PP2_CLIENT_CERT_CONN

// CRC-32C, reflected: the Castagnoli polynomial 0x1EDC6F41 with its bits reversed.
constexpr std::array<uint32_t, 256> makeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = makeCrc32cTable();

uint16_t readBe16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

uint32_t readBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void appendBe32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

void appendBe16(std::string& out, size_t value) {
  out.push_back(static_cast<char>((value >> 8) & 0xFF));
  out.push_back(static_cast<char>(value & 0xFF));
}

ProxyParseResult needMore() {
  return {};
}

ProxyParseResult invalid(std::string_view why) {
  ProxyParseResult result;
  result.status = ProxyParseStatus::kInvalid;
  result.error = why;
  return result;
}

ProxyParseResult done(size_t consumed, ProxyHeader header) {
  ProxyParseResult result;
  result.status = ProxyParseStatus::kDone;
  result.consumed = consumed;
  result.header = std::move(header);
  return result;
}

enum class SignatureMatch { kNo, kPrefix, kFull };

// kPrefix while the received bytes are a proper prefix of the signature: more bytes decide.
SignatureMatch matchSignature(const uint8_t* data, size_t len, const uint8_t* signature,
                              size_t signatureLen) {
  const size_t n = std::min(len, signatureLen);
  if (std::memcmp(data, signature, n) != 0) return SignatureMatch::kNo;
  return n == signatureLen ? SignatureMatch::kFull : SignatureMatch::kPrefix;
}

// `bytes` holds 4 (IPv4) or 16 (IPv6) address bytes in network order.
Address ipAddress(int family, const uint8_t* bytes, uint16_t port) {
  if (family == AF_INET) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, bytes, 4);
    in.sin_port = htons(port);
    return Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  std::memcpy(&in6.sin6_addr, bytes, 16);
  in6.sin6_port = htons(port);
  return Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
}

// ---- v1 ----

// inet_pton wants a C string: the field is copied to the stack, never to the heap. Only
// the characters of an address go there: inet_pton would stop at a NUL and take the part
// before it for the whole field.
std::optional<Address> parseV1Ip(int family, std::string_view text, uint16_t port) {
  char buf[INET6_ADDRSTRLEN];
  if (text.size() >= sizeof buf) return {};
  if (text.find_first_not_of("0123456789abcdefABCDEF.:") != std::string_view::npos) return {};
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  uint8_t bytes[16];
  if (inet_pton(family, buf, bytes) != 1) return {};
  return ipAddress(family, bytes, port);
}

// Digits only: from_chars and strtoul would accept a sign or spaces that the spec does not.
std::optional<uint16_t> parseV1Port(std::string_view text) {
  if (text.empty() || text.size() > 5) return {};
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return {};
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return {};
  return static_cast<uint16_t>(value);
}

// Splits `text` at single spaces into exactly fields.size() non-empty fields.
bool splitFields(std::string_view text, std::span<std::string_view> fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    const bool last = i + 1 == fields.size();
    const size_t space = text.find(' ');
    if (last != (space == std::string_view::npos)) return false;
    fields[i] = text.substr(0, space);
    if (fields[i].empty()) return false;
    if (!last) text.remove_prefix(space + 1);
  }
  return true;
}

// `text` is the line between "PROXY " and the CRLF. Returns what is wrong, empty if nothing.
std::string_view parseV1Fields(std::string_view text, ProxyHeader& header) {
  header.version = 1;
  // The spec has the receiver ignore whatever follows UNKNOWN, up to the CRLF.
  if (text == "UNKNOWN" || text.starts_with("UNKNOWN ")) return {};
  int family = AF_UNSPEC;
  if (text.starts_with("TCP4 ")) family = AF_INET;
  if (text.starts_with("TCP6 ")) family = AF_INET6;
  if (family == AF_UNSPEC) return "v1: protocol is not TCP4, TCP6 or UNKNOWN";
  std::array<std::string_view, 4> fields;  // source, destination, source port, dest port
  if (!splitFields(text.substr(5), fields))
    return "v1: want 4 fields after the protocol, separated by single spaces";
  const auto sourcePort = parseV1Port(fields[2]);
  if (!sourcePort) return "v1: bad source port";
  const auto destinationPort = parseV1Port(fields[3]);
  if (!destinationPort) return "v1: bad destination port";
  auto source = parseV1Ip(family, fields[0], *sourcePort);
  if (!source) return "v1: bad source address for the protocol";
  auto destination = parseV1Ip(family, fields[1], *destinationPort);
  if (!destination) return "v1: bad destination address for the protocol";
  header.hasAddresses = true;
  header.source = *source;
  header.destination = *destination;
  return {};
}

ProxyParseResult parseV1(const uint8_t* data, size_t len) {
  const size_t limit = std::min(len, kProxyV1MaxBytes);
  for (size_t i = kV1Prefix.size(); i < limit; ++i) {
    if (data[i] == '\n') return invalid("v1: LF without CR");
    // The line is printable US-ASCII: a NUL or another control byte ends no field.
    if (data[i] != '\r' && (data[i] < 0x20 || data[i] > 0x7e))
      return invalid("v1: a byte that is not printable US-ASCII");
    if (data[i] != '\r') continue;
    if (i + 1 == kProxyV1MaxBytes) return invalid("v1: no CRLF within 107 bytes");
    if (i + 1 == len) return needMore();  // the LF may come with the next read
    if (data[i + 1] != '\n') return invalid("v1: CR not followed by LF");
    const std::string_view line(reinterpret_cast<const char*>(data) + kV1Prefix.size(),
                                i - kV1Prefix.size());
    ProxyHeader header;
    if (auto error = parseV1Fields(line, header); !error.empty()) return invalid(error);
    return done(i + 2, std::move(header));
  }
  if (len >= kProxyV1MaxBytes) return invalid("v1: no CRLF within 107 bytes");
  return needMore();
}

// ---- v2 ----

// Bytes of the address block for a family/protocol byte we accept; nullopt for the others.
std::optional<size_t> v2AddressBlockBytes(uint8_t family) {
  switch (family) {
    case kFamilyUnspec:
      return 0;
    case kFamilyTcp4:
      return 12;
    case kFamilyTcp6:
      return 36;
    case kFamilyUnixStream:
      return 216;
    default:
      return {};
  }
}

// The checksum covers the whole header with the TLV's own 4 value bytes taken as zero.
bool crc32cMatches(const uint8_t* header, size_t total, size_t valueOffset) {
  static constexpr uint8_t kZeros[4] = {};
  uint32_t crc = crc32c(header, valueOffset);
  crc = crc32c(kZeros, sizeof kZeros, crc);
  crc = crc32c(header + valueOffset + 4, total - valueOffset - 4, crc);
  return crc == readBe32(header + valueOffset);
}

// Walks the TLVs in header[offset, total). Returns what is wrong, empty if nothing.
std::string_view parseV2Tlvs(const uint8_t* header, size_t total, size_t offset, ProxyHeader& out) {
  bool sawAlpn = false, sawAuthority = false, sawCrc = false;
  while (offset < total) {
    if (total - offset < 3) return "v2: truncated TLV header";
    const uint8_t type = header[offset];
    const size_t valueLen = readBe16(header + offset + 1);
    const size_t value = offset + 3;
    if (valueLen > total - value) return "v2: TLV value runs past the header";
    const auto text = [&] {
      return std::string(reinterpret_cast<const char*>(header + value), valueLen);
    };
    switch (type) {
      case kTlvAlpn:
        if (std::exchange(sawAlpn, true)) return "v2: two ALPN TLVs";
        out.alpn = text();
        break;
      case kTlvAuthority:
        if (std::exchange(sawAuthority, true)) return "v2: two AUTHORITY TLVs";
        out.authority = text();
        break;
      case kTlvCrc32c:
        if (std::exchange(sawCrc, true)) return "v2: two CRC32C TLVs";
        if (valueLen != 4) return "v2: CRC32C TLV is not 4 bytes";
        if (!crc32cMatches(header, total, value)) return "v2: CRC32C mismatch";
        break;
      default:
        break;  // NOOP, SSL, UNIQUE_ID, NETNS, private types: nothing we act on
    }
    offset = value + valueLen;
  }
  return {};
}

// Each byte is checked as soon as it has arrived: a bad version is rejected before the rest.
ProxyParseResult parseV2(const uint8_t* data, size_t len) {
  if (len > 12) {
    if ((data[12] >> 4) != 2) return invalid("v2: version is not 2");
    const uint8_t command = data[12] & 0x0F;
    if (command != kV2CommandLocal && command != kV2CommandProxy)
      return invalid("v2: command is neither LOCAL nor PROXY");
  }
  if (len > 13 && !v2AddressBlockBytes(data[13])) {
    if ((data[13] & 0x0F) == 0x2) return invalid("v2: UDP is not proxied here");
    return invalid("v2: unknown address family or protocol");
  }
  if (len < kV2FixedBytes) return needMore();
  const uint8_t command = data[12] & 0x0F;
  const size_t addressBytes = *v2AddressBlockBytes(data[13]);
  const size_t payload = readBe16(data + 14);
  if (payload > kProxyV2MaxPayload) return invalid("v2: header longer than our 2048-byte cap");
  if (payload < addressBytes) return invalid("v2: length does not cover the address block");
  const size_t total = kV2FixedBytes + payload;
  if (len < total) return needMore();

  ProxyHeader header;
  header.version = 2;
  const uint8_t* block = data + kV2FixedBytes;
  if (command == kV2CommandProxy && data[13] == kFamilyTcp4) {
    header.hasAddresses = true;
    header.source = ipAddress(AF_INET, block, readBe16(block + 8));
    header.destination = ipAddress(AF_INET, block + 4, readBe16(block + 10));
  } else if (command == kV2CommandProxy && data[13] == kFamilyTcp6) {
    header.hasAddresses = true;
    header.source = ipAddress(AF_INET6, block, readBe16(block + 32));
    header.destination = ipAddress(AF_INET6, block + 16, readBe16(block + 34));
  }
  if (auto error = parseV2Tlvs(data, total, kV2FixedBytes + addressBytes, header); !error.empty())
    return invalid(error);
  return done(total, std::move(header));
}

// ---- writers ----

// Both endpoints in one IP family (the IPv4 one mapped into IPv6 when they differ), or
// nullopt when either is not an IP address.
std::optional<std::pair<Address, Address>> tcpEndpoints(const Address& source,
                                                        const Address& destination) {
  const auto isIp = [](const Address& a) {
    return a.family() == AF_INET || a.family() == AF_INET6;
  };
  if (!isIp(source) || !isIp(destination)) return {};
  if (source.family() == destination.family()) return std::pair{source, destination};
  const auto asV6 = [](const Address& a) {
    if (a.family() == AF_INET6) return a;
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    std::memcpy(mapped + 12, a.ipBytes().data(), 4);
    return ipAddress(AF_INET6, mapped, a.port());
  };
  return std::pair{asV6(source), asV6(destination)};
}

// Appends a TLV unless `out` would then exceed our payload cap (see buildProxyV2).
void appendTlvWithinCap(std::string& out, uint8_t type, std::string_view value) {
  if (out.size() + 3 + value.size() > kProxyV2MaxPayload) return;
  out.push_back(static_cast<char>(type));
  appendBe16(out, value.size());
  out.append(value);
}

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t len, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) crc = (crc >> 8) ^ kCrc32cTable[(crc ^ data[i]) & 0xFF];
  return ~crc;
}

ProxyParseResult parseProxyHeader(const uint8_t* data, size_t len) {
  if (len == 0) return needMore();
  const auto v1 = matchSignature(data, len, reinterpret_cast<const uint8_t*>(kV1Prefix.data()),
                                 kV1Prefix.size());
  if (v1 == SignatureMatch::kFull) return parseV1(data, len);
  const auto v2 = matchSignature(data, len, kV2Signature.data(), kV2Signature.size());
  if (v2 == SignatureMatch::kFull) return parseV2(data, len);
  if (v1 == SignatureMatch::kPrefix || v2 == SignatureMatch::kPrefix) return needMore();
  return invalid("neither a PROXY v1 nor a PROXY v2 signature");
}

std::string buildProxyV2(const Address& source, const Address& destination,
                         const ProxyV2Tlvs& tlvs) {
  std::string payload;
  uint8_t family = kFamilyUnspec;
  if (auto endpoints = tcpEndpoints(source, destination)) {
    const auto& [from, to] = *endpoints;
    family = from.family() == AF_INET ? kFamilyTcp4 : kFamilyTcp6;
    payload.append(from.ipBytes());
    payload.append(to.ipBytes());
    appendBe16(payload, from.port());
    appendBe16(payload, to.port());
  }
  if (!tlvs.alpn.empty()) appendTlvWithinCap(payload, kTlvAlpn, tlvs.alpn);
  if (!tlvs.authority.empty()) appendTlvWithinCap(payload, kTlvAuthority, tlvs.authority);
  if (!tlvs.sslVersion.empty()) {
    std::string ssl;
    ssl.push_back(
        static_cast<char>(kSslClientSsl | (tlvs.clientCertVerified ? kSslClientCertConn : 0)));
    appendBe32(ssl, tlvs.clientCertVerified ? 0 : 1);  // verify: 0 means a verified certificate
    appendTlvWithinCap(ssl, kSubTlvSslVersion, tlvs.sslVersion);
    if (!tlvs.sslCipher.empty()) appendTlvWithinCap(ssl, kSubTlvSslCipher, tlvs.sslCipher);
    appendTlvWithinCap(payload, kTlvSsl, ssl);
  }

  std::string out(reinterpret_cast<const char*>(kV2Signature.data()), kV2Signature.size());
  out.push_back(static_cast<char>(kV2VersionAndProxy));
  out.push_back(static_cast<char>(family));
  appendBe16(out, payload.size());
  out += payload;
  return out;
}

std::string buildProxyV1(const Address& source, const Address& destination) {
  auto endpoints = tcpEndpoints(source, destination);
  if (!endpoints) return "PROXY UNKNOWN\r\n";
  const auto& [from, to] = *endpoints;
  // inet_ntop writes at most 39 characters for IPv6, so the line stays within 107 bytes.
  return std::string(kV1Prefix) + (from.family() == AF_INET ? "TCP4 " : "TCP6 ") + from.ipString() +
         " " + to.ipString() + " " + std::to_string(from.port()) + " " + std::to_string(to.port()) +
         "\r\n";
}

}  // namespace tlsgate::net
