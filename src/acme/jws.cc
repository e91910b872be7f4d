#include "acme/jws.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <array>
#include <nlohmann/json.hpp>

namespace tlsgate::acme {

namespace {

constexpr int kCoordinateBytes = 32;  // P-256

std::string memString(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

std::string opensslError(const std::string& what) {
  std::string why = ossl::drainErrors();
  return why.empty() ? what : what + ": " + why;
}

bool isP256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {};
  size_t length = 0;
  if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                      &length))
    return false;
  std::string_view name(group, length);
  return name == "prime256v1" || name == "P-256";
}

// The 32-byte big-endian form of r or s.
bool appendCoordinate(const BIGNUM* n, std::string& out) {
  std::array<unsigned char, kCoordinateBytes> bytes = {};
  if (BN_bn2binpad(n, bytes.data(), kCoordinateBytes) != kCoordinateBytes) return false;
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t at) { return static_cast<unsigned char>(bytes[at]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(group >> shift) & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  unsigned group = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
  out += kAlphabet[(group >> 18) & 63];
  out += kAlphabet[(group >> 12) & 63];
  if (rest == 2) out += kAlphabet[(group >> 6) & 63];
  return out;
}

std::string sha256(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest = {};
  unsigned int length = 0;
  if (!EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr))
    return {};
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

AccountKey::AccountKey(ossl::UniquePtr<EVP_PKEY> key) : key_(std::move(key)) {}

// A new reference to the same immutable key (null for a moved-from AccountKey).
static ossl::UniquePtr<EVP_PKEY> share(const ossl::UniquePtr<EVP_PKEY>& key) {
  if (key) EVP_PKEY_up_ref(key.get());
  return ossl::UniquePtr<EVP_PKEY>(key.get());
}

AccountKey::AccountKey(const AccountKey& other) : key_(share(other.key_)) {}

AccountKey& AccountKey::operator=(const AccountKey& other) {
  if (this != &other) key_ = share(other.key_);
  return *this;
}

Result<AccountKey> AccountKey::generate() {
  ossl::UniquePtr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Error{"", 0, opensslError("cannot generate a P-256 account key")};
  return AccountKey(std::move(key));
}

Result<AccountKey> AccountKey::fromPem(const std::string& pem, const std::string& what) {
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::UniquePtr<EVP_PKEY> key;
  if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Error{what, 0, opensslError("no PEM private key")};
  if (!isP256(key.get())) return Error{what, 0, "the ACME account key must be an ECDSA P-256 key"};
  return AccountKey(std::move(key));
}

std::string AccountKey::toPem() const {
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      !PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr)) {
    ossl::drainErrors();
    return {};
  }
  return memString(bio.get());
}

std::string AccountKey::jwk() const {
  unsigned char* raw = nullptr;
  size_t size = EVP_PKEY_get1_encoded_public_key(key_.get(), &raw);
  ossl::OpenSslArray<unsigned char> point(raw);
  // The uncompressed point: 0x04 || x || y.
  if (size != 1 + 2 * kCoordinateBytes || point[0] != 0x04) return {};
  std::string_view bytes(reinterpret_cast<const char*>(point.get()), size);
  // Members in lexicographic order, no whitespace (RFC 7638 section 3.3).
  return R"({"crv":"P-256","kty":"EC","x":")" + base64url(bytes.substr(1, kCoordinateBytes)) +
         R"(","y":")" + base64url(bytes.substr(1 + kCoordinateBytes)) + R"("})";
}

std::string AccountKey::thumbprint() const {
  return base64url(sha256(jwk()));
}

Result<std::string> AccountKey::sign(std::string_view signingInput) const {
  ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  std::array<unsigned char, 80> der = {};  // an ECDSA P-256 DER signature is at most 72 bytes
  size_t derSize = der.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), der.data(), &derSize,
                     reinterpret_cast<const unsigned char*>(signingInput.data()),
                     signingInput.size()) != 1)
    return Error{"", 0, opensslError("cannot sign with the ACME account key")};
  const unsigned char* cursor = der.data();
  ossl::UniquePtr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(derSize)));
  std::string rs;
  if (!sig || !appendCoordinate(ECDSA_SIG_get0_r(sig.get()), rs) ||
      !appendCoordinate(ECDSA_SIG_get0_s(sig.get()), rs))
    return Error{"", 0, opensslError("cannot convert the ECDSA signature to r||s")};
  return base64url(rs);
}

Result<std::string> jwsBody(const AccountKey& key, const std::string& url, const std::string& nonce,
                            const std::string& kid, const std::optional<std::string>& payloadJson) {
  nlohmann::json header = {{"alg", "ES256"}, {"nonce", nonce}, {"url", url}};
  if (kid.empty())
    header["jwk"] = nlohmann::json::parse(key.jwk());
  else
    header["kid"] = kid;
  std::string protectedB64 = base64url(header.dump());
  std::string payloadB64 = payloadJson ? base64url(*payloadJson) : std::string();
  Result<std::string> signature = key.sign(protectedB64 + "." + payloadB64);
  if (!signature) return signature.error();
  nlohmann::json body = {
      {"protected", protectedB64}, {"payload", payloadB64}, {"signature", *signature}};
  return body.dump();
}

std::string keyAuthorization(const std::string& token, const AccountKey& key) {
  return token + "." + key.thumbprint();
}

}  // namespace tlsgate::acme
