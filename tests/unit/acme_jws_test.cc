// The ACME client's JWS (RFC 8555 section 6.2, RFC 7515, RFC 7638): base64url, the account
// key's JWK and thumbprint, ES256 signatures that OpenSSL verifies, the request bodies.
#include "acme/jws.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "acme_test_util.h"

namespace tlsgate::acme {
namespace {

using testing::base64urlDecode;
using testing::keyOf;

// A P-256 key and its RFC 7638 thumbprint, computed independently with python3-cryptography
// (the key's public numbers, the canonical JWK written by hand, SHA-256, base64url).
constexpr const char* kKeyPem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgL3/nJInQhuA+Q8iQ
LrJH+slJP9MZg7SDnrHtJkeHFQGhRANCAATN9ncw0IYo15DV6u2EZKXvhJxlUOAY
e2ghNuZtbs3RQIVqs1GXMAbHJxQ2uQRz3xmHqNUDhsxSg7AcnZ7BN5Qs
-----END PRIVATE KEY-----
)";
constexpr const char* kJwk =
    R"({"crv":"P-256","kty":"EC","x":"zfZ3MNCGKNeQ1erthGSl74ScZVDgGHtoITbmbW7N0UA",)"
    R"("y":"hWqzUZcwBscnFDa5BHPfGYeo1QOGzFKDsBydnsE3lCw"})";
constexpr const char* kThumbprint = "Myo9n41vkBnNfEySTjBb6Y2MrB_g7BNR2CproyMEbFo";

AccountKey fixedKey() {
  Result<AccountKey> key = AccountKey::fromPem(kKeyPem, "account.key");
  EXPECT_TRUE(key) << key.error().toString();
  return std::move(key).value();
}

// Verifies an ES256 signature (base64url r||s) with OpenSSL, after turning it into DER.
bool verifies(const std::string& keyPem, const std::string& input, const std::string& sig64) {
  std::string rs = base64urlDecode(sig64);
  if (rs.size() != 64) return false;
  auto bytes = reinterpret_cast<const unsigned char*>(rs.data());
  ossl::UniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  ECDSA_SIG_set0(sig.get(), BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int derSize = i2d_ECDSA_SIG(sig.get(), &der);
  ossl::OpenSslArray<unsigned char> owned(der);
  ossl::UniquePtr<EVP_PKEY> key = keyOf(keyPem);
  ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(derSize),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

TEST(AcmeJws, Base64urlMatchesRfc4648VectorsWithoutPadding) {
  // RFC 4648 section 10, padding removed (RFC 7515 section 2).
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url("foobar"), "Zm9vYmFy");
  // The URL-safe alphabet: 0xfb 0xff -> "+/8=" in base64.
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
}

TEST(AcmeJws, JwkAndThumbprintOfAKnownKeyMatchAnIndependentComputation) {
  AccountKey key = fixedKey();
  EXPECT_EQ(key.jwk(), kJwk);
  EXPECT_EQ(key.thumbprint(), kThumbprint);
  EXPECT_EQ(keyAuthorization("tok-123", key), std::string("tok-123.") + kThumbprint);
}

TEST(AcmeJws, SignatureIs64BytesOfRAndSAndVerifiesWithOpenSsl) {
  AccountKey key = fixedKey();
  for (const std::string& input :
       std::vector<std::string>{"", "eyJhbGciOiJFUzI1NiJ9.e30", std::string(1000, 'x')}) {
    Result<std::string> sig = key.sign(input);
    ASSERT_TRUE(sig) << sig.error().message;
    EXPECT_EQ(base64urlDecode(*sig).size(), 64u);
    EXPECT_TRUE(verifies(kKeyPem, input, *sig));
    EXPECT_FALSE(verifies(kKeyPem, input + "!", *sig));
  }
}

TEST(AcmeJws, GeneratedKeyRoundTripsThroughPem) {
  Result<AccountKey> key = AccountKey::generate();
  ASSERT_TRUE(key) << key.error().message;
  Result<AccountKey> again = AccountKey::fromPem(key->toPem(), "k.pem");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->thumbprint(), key->thumbprint());
  AccountKey copy = *again;  // copies share the key
  EXPECT_EQ(copy.jwk(), key->jwk());
}

TEST(AcmeJws, FromPemRefusesGarbageAndNonP256KeysNamingTheFile) {
  Result<AccountKey> garbage = AccountKey::fromPem("not a key", "/state/account.key");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().file, "/state/account.key");
  ossl::UniquePtr<EVP_PKEY> rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), rsa.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  Result<AccountKey> wrong = AccountKey::fromPem(std::string(data, size), "rsa.key");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("P-256"), std::string::npos);
}

nlohmann::json decodeJson(const std::string& b64) {
  return nlohmann::json::parse(base64urlDecode(b64));
}

TEST(AcmeJws, NewAccountBodyEmbedsTheJwkAndIsSignedOverProtectedDotPayload) {
  AccountKey key = fixedKey();
  Result<std::string> body = jwsBody(key, "https://ca/new-acct", "nonce-1", "",
                                     std::string(R"({"termsOfServiceAgreed":true})"));
  ASSERT_TRUE(body) << body.error().message;
  nlohmann::json jws = nlohmann::json::parse(*body);
  ASSERT_EQ(jws.size(), 3u);  // flattened serialization: protected, payload, signature
  nlohmann::json header = decodeJson(jws["protected"]);
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["nonce"], "nonce-1");
  EXPECT_EQ(header["url"], "https://ca/new-acct");
  EXPECT_EQ(header["jwk"], nlohmann::json::parse(kJwk));
  EXPECT_FALSE(header.contains("kid"));  // RFC 8555 6.2: jwk and kid are exclusive
  EXPECT_EQ(decodeJson(jws["payload"])["termsOfServiceAgreed"], true);
  std::string input = jws["protected"].get<std::string>() + "." + jws["payload"].get<std::string>();
  EXPECT_TRUE(verifies(kKeyPem, input, jws["signature"]));
}

TEST(AcmeJws, PostAsGetHasKidAndAnEmptyPayload) {
  AccountKey key = fixedKey();
  Result<std::string> body =
      jwsBody(key, "https://ca/order/1", "nonce-2", "https://ca/acct/7", std::nullopt);
  ASSERT_TRUE(body) << body.error().message;
  nlohmann::json jws = nlohmann::json::parse(*body);
  nlohmann::json header = decodeJson(jws["protected"]);
  EXPECT_EQ(header["kid"], "https://ca/acct/7");
  EXPECT_FALSE(header.contains("jwk"));
  EXPECT_EQ(jws["payload"], "");  // RFC 8555 6.3: not "e30" ({})
  EXPECT_TRUE(verifies(kKeyPem, jws["protected"].get<std::string>() + ".", jws["signature"]));
}

}  // namespace
}  // namespace tlsgate::acme
