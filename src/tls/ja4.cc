#include "tls/ja4.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "tls/socket_bio.h"

namespace tlsgate::tls {

namespace {

constexpr uint16_t kServerName = 0x0000;
constexpr uint16_t kAlpn = 0x0010;
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kNoHash = "000000000000";

// The text that is hashed: inline up to 640 characters (128 values), on the heap beyond.
class HexText {
 public:
  // Appends `values` (GREASE left out) as 4-digit lowercase hex joined by ','; `lead` goes
  // before the first one when the text already holds something.
  void appendList(std::span<const uint16_t> values, char lead) {
    bool first = true;
    for (uint16_t v : values) {
      if (isGrease(v)) continue;
      const char sep = first ? lead : ',';
      first = false;
      const char item[5] = {sep, kHexDigits[v >> 12], kHexDigits[(v >> 8) & 0xf],
                            kHexDigits[(v >> 4) & 0xf], kHexDigits[v & 0xf]};
      const bool bare = size_ == 0 && spilled_.empty();
      append(bare ? item + 1 : item, bare ? 4 : 5);
    }
  }
  std::string_view view() const {
    return spilled_.empty() ? std::string_view(inline_.data(), size_) : spilled_;
  }

 private:
  void append(const char* p, size_t n) {
    if (spilled_.empty() && size_ + n <= inline_.size()) {
      std::memcpy(inline_.data() + size_, p, n);
      size_ += n;
      return;
    }
    if (spilled_.empty()) spilled_.assign(inline_.data(), size_);
    spilled_.append(p, n);
  }

  std::array<char, 640> inline_{};
  size_t size_ = 0;
  std::string spilled_;  // once the text outgrew inline_
};

// The first 12 hex digits of the SHA-256 of `text`; "000000000000" for an empty list.
void appendHash12(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += kNoHash;
    return;
  }
  // Fetched once: an implicit fetch per handshake would look SHA-256 up every time.
  static const ossl::UniquePtr<EVP_MD> sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  if (!sha256 || !EVP_Digest(text.data(), text.size(), md, &mdLen, sha256.get(), nullptr) ||
      mdLen < 6) {
    ossl::drainErrors();
    out += kNoHash;
    return;
  }
  for (size_t i = 0; i < 6; ++i) {
    out += kHexDigits[md[i] >> 4];
    out += kHexDigits[md[i] & 0xf];
  }
}

// The version's two characters: the highest non-GREASE supported_versions value, else the
// legacy version.
const char* versionCode(const Ja4Input& in) {
  uint16_t version = 0;
  for (uint16_t v : in.supportedVersions)
    if (!isGrease(v)) version = std::max(version, v);
  if (version == 0) version = in.legacyVersion;
  switch (version) {
    case 0x0304:
      return "13";
    case 0x0303:
      return "12";
    case 0x0302:
      return "11";
    case 0x0301:
      return "10";
    case 0x0300:
      return "s3";
    case 0x0002:
      return "s2";
    case 0xfeff:
      return "d1";
    case 0xfefd:
      return "d2";
    case 0xfefc:
      return "d3";
    default:
      return "00";
  }
}

bool isAlphanumeric(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The first and last character of the first ALPN protocol; when either is not
// alphanumeric, the first and last digit of the protocol in hex instead; "00" for none.
void appendAlpnChars(std::string& out, std::string_view wire) {
  if (wire.empty()) {
    out += "00";
    return;
  }
  const size_t len = std::min<size_t>(static_cast<unsigned char>(wire[0]), wire.size() - 1);
  if (len == 0) {
    out += "00";
    return;
  }
  const auto first = static_cast<unsigned char>(wire[1]);
  const auto last = static_cast<unsigned char>(wire[len]);
  if (isAlphanumeric(first) && isAlphanumeric(last)) {
    out += static_cast<char>(first);
    out += static_cast<char>(last);
  } else {
    out += kHexDigits[first >> 4];
    out += kHexDigits[last & 0xf];
  }
}

void appendCount(std::string& out, size_t n) {
  n = std::min<size_t>(n, 99);
  out += static_cast<char>('0' + n / 10);
  out += static_cast<char>('0' + n % 10);
}

}  // namespace

std::string ja4Fingerprint(const Ja4Input& in) {
  U16Values ciphers;
  for (uint16_t c : in.ciphers)
    if (!isGrease(c)) ciphers.push(c);
  U16Values extensions;  // for JA4_c: without SNI and ALPN, which JA4_a shows
  size_t extensionCount = 0;
  bool sni = false;
  for (uint16_t e : in.extensions) {
    if (isGrease(e)) continue;
    ++extensionCount;
    sni = sni || e == kServerName;
    if (e != kServerName && e != kAlpn) extensions.push(e);
  }
  const std::span<uint16_t> sortedCiphers = ciphers.values();
  std::sort(sortedCiphers.begin(), sortedCiphers.end());
  const std::span<uint16_t> sortedExtensions = extensions.values();
  std::sort(sortedExtensions.begin(), sortedExtensions.end());

  std::string out;
  out.reserve(36);
  out += 't';
  out += versionCode(in);
  out += sni ? 'd' : 'i';
  appendCount(out, ciphers.size());
  appendCount(out, extensionCount);
  appendAlpnChars(out, in.alpn);
  out += '_';
  HexText cipherText;
  cipherText.appendList(sortedCiphers, ',');
  appendHash12(out, cipherText.view());
  out += '_';
  HexText extensionText;  // the sorted extensions, then "_" and the signature algorithms
  extensionText.appendList(sortedExtensions, ',');
  if (!extensions.empty()) extensionText.appendList(in.signatureAlgorithms, '_');
  appendHash12(out, extensionText.view());
  return out;
}

namespace {

// `len` bytes of big-endian 16-bit values.
void readU16s(const unsigned char* p, size_t len, U16Values& out) {
  for (size_t i = 0; i + 1 < len; i += 2) out.push(static_cast<uint16_t>((p[i] << 8) | p[i + 1]));
}

// An extension that is a list behind a length of `lengthBytes` (1 or 2): the list's bytes.
std::span<const unsigned char> extensionList(SSL* ssl, unsigned type, size_t lengthBytes) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (!SSL_client_hello_get0_ext(ssl, type, &p, &len) || len < lengthBytes) return {};
  const size_t listLen = lengthBytes == 1 ? p[0] : (size_t{p[0]} << 8) | p[1];
  return {p + lengthBytes, std::min(listLen, len - lengthBytes)};
}

// The bytes of the handshake messages in TLS records, the record headers skipped: a
// ClientHello may come in several records (and a record may hold a byte of it).
class HandshakeReader {
 public:
  explicit HandshakeReader(std::string_view records) : records_(records) {}

  // The next `n` (at most 3) bytes as a big-endian number; false past the end.
  bool number(size_t n, size_t& value) {
    value = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!inRecord()) return false;
      value = (value << 8) | static_cast<unsigned char>(records_[pos_++]);
      --recordLeft_;
    }
    return true;
  }
  bool skip(size_t n) {
    while (n > 0) {
      if (!inRecord()) return false;
      const size_t take = std::min({n, recordLeft_, records_.size() - pos_});
      pos_ += take;
      recordLeft_ -= take;
      n -= take;
    }
    return true;
  }

 private:
  // At an unread byte of a handshake record (past the headers of empty ones).
  bool inRecord() {
    while (recordLeft_ == 0) {
      if (pos_ + 5 > records_.size() || records_[pos_] != SSL3_RT_HANDSHAKE) return false;
      recordLeft_ = (size_t{static_cast<unsigned char>(records_[pos_ + 3])} << 8) |
                    static_cast<unsigned char>(records_[pos_ + 4]);
      pos_ += 5;
    }
    return pos_ < records_.size();
  }

  std::string_view records_;
  size_t pos_ = 0;
  size_t recordLeft_ = 0;  // of the current record, from pos_
};

// Skips a vector behind a length of `lengthBytes`; adds what it took to `consumed`.
bool skipVector(HandshakeReader& r, size_t lengthBytes, size_t& consumed) {
  size_t len = 0;
  if (!r.number(lengthBytes, len) || !r.skip(len)) return false;
  consumed += lengthBytes + len;
  return true;
}

// OpenSSL's list: only the extensions it knows.
bool knownExtensionTypes(SSL* ssl, U16Values& out) {
  int* types = nullptr;
  size_t count = 0;
  if (!SSL_client_hello_get1_extensions_present(ssl, &types, &count)) {
    ossl::drainErrors();
    return false;
  }
  const ossl::OpenSslArray<int> owned(types);
  for (size_t i = 0; i < count; ++i) out.push(static_cast<uint16_t>(types[i]));
  return true;
}

}  // namespace

bool clientHelloExtensionTypes(std::string_view records, U16Values& out) {
  HandshakeReader r(records);
  size_t type = 0;
  size_t length = 0;
  if (!r.number(1, type) || type != SSL3_MT_CLIENT_HELLO || !r.number(3, length)) return false;
  size_t consumed = 2 + 32;  // legacy_version, random
  if (!r.skip(consumed) || !skipVector(r, 1, consumed) || !skipVector(r, 2, consumed) ||
      !skipVector(r, 1, consumed))  // session id, cipher suites, compression methods
    return false;
  if (consumed == length) return true;  // no extensions at all
  size_t left = 0;
  if (!r.number(2, left) || consumed + 2 + left != length) return false;
  while (left > 0) {
    size_t extension = 0;
    size_t len = 0;
    if (left < 4 || !r.number(2, extension) || !r.number(2, len) || len > left - 4 || !r.skip(len))
      return false;
    out.push(static_cast<uint16_t>(extension));
    left -= 4 + len;
  }
  return true;
}

std::string ja4OfClientHello(SSL* ssl) {
  U16Values extensions;
  if (!clientHelloExtensionTypes(handshakeBytesReceived(ssl), extensions)) {
    extensions.clear();
    if (!knownExtensionTypes(ssl, extensions)) return {};
  }
  const unsigned char* cipherBytes = nullptr;
  const size_t cipherLen = SSL_client_hello_get0_ciphers(ssl, &cipherBytes);
  U16Values ciphers;
  readU16s(cipherBytes, cipherLen, ciphers);
  U16Values versions;
  auto versionBytes = extensionList(ssl, TLSEXT_TYPE_supported_versions, 1);
  readU16s(versionBytes.data(), versionBytes.size(), versions);
  U16Values signatureAlgorithms;
  auto sigalgBytes = extensionList(ssl, TLSEXT_TYPE_signature_algorithms, 2);
  readU16s(sigalgBytes.data(), sigalgBytes.size(), signatureAlgorithms);
  auto alpn = extensionList(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, 2);

  Ja4Input in;
  in.ciphers = ciphers.values();
  in.extensions = extensions.values();
  in.supportedVersions = versions.values();
  in.legacyVersion = static_cast<uint16_t>(SSL_client_hello_get0_legacy_version(ssl));
  in.signatureAlgorithms = signatureAlgorithms.values();
  in.alpn = std::string_view(reinterpret_cast<const char*>(alpn.data()), alpn.size());
  return ja4Fingerprint(in);
}

}  // namespace tlsgate::tls
