#include "tls/cert_loader.h"

#include <openssl/decoder.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

namespace tlsgate::tls {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

ossl::UniquePtr<BIO> openFile(const std::string& file) {
  ossl::UniquePtr<BIO> bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) ERR_clear_error();
  return bio;
}

// `what` names the source in messages: "'file'" or "the PEM given".
Result<std::vector<ossl::UniquePtr<X509>>> readCertificates(BIO* bio, const std::string& what) {
  std::vector<ossl::UniquePtr<X509>> certs;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) certs.emplace_back(x);
  ERR_clear_error();  // the loop ends on "no start line"
  if (certs.empty()) return Error{"", 0, "no PEM certificate in " + what};
  return certs;
}

Result<std::vector<ossl::UniquePtr<X509>>> readCertificates(const std::string& file) {
  auto bio = openFile(file);
  if (!bio) return Error{"", 0, "cannot read '" + file + "': " + std::strerror(errno)};
  return readCertificates(bio.get(), "'" + file + "'");
}

// A null password callback: encrypted keys fail instead of prompting on the terminal.
int noPassword(char*, int, int, void*) {
  return 0;
}

// OpenSSL 3.0 builds a new decoder chain for every PEM_read_bio_PrivateKey: about 0.5 ms,
// most of what loading a certificate costs (seconds for a reload of 10,000 of them). A
// chain built once per thread and reused decodes the same key in a seventh of that time.
// It reads the first PEM block only; null when that is not a key, which the general way
// then handles (e.g. a key after the certificate in one file).
EVP_PKEY* decodeLeadingKey(const std::string& pem) {
  struct Decoder {
    EVP_PKEY* out = nullptr;
    OSSL_DECODER_CTX* ctx = nullptr;
    ~Decoder() { OSSL_DECODER_CTX_free(ctx); }
  };
  thread_local Decoder decoder;
  if (!decoder.ctx) {
    decoder.ctx = OSSL_DECODER_CTX_new_for_pkey(&decoder.out, "PEM", nullptr, nullptr,
                                                OSSL_KEYMGMT_SELECT_KEYPAIR, nullptr, nullptr);
    if (!decoder.ctx || !OSSL_DECODER_CTX_set_pem_password_cb(decoder.ctx, noPassword, nullptr))
      return nullptr;
  }
  ossl::UniquePtr<BIO> mem(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  decoder.out = nullptr;
  if (!mem || !OSSL_DECODER_from_bio(decoder.ctx, mem.get())) {
    EVP_PKEY_free(decoder.out);
    decoder.out = nullptr;
  }
  return std::exchange(decoder.out, nullptr);
}

Result<ossl::UniquePtr<EVP_PKEY>> readKey(BIO* bio, const std::string& what) {
  std::string pem;
  char chunk[4096];
  for (int n; (n = BIO_read(bio, chunk, sizeof chunk)) > 0;) pem.append(chunk, n);
  OPENSSL_cleanse(chunk, sizeof chunk);
  ossl::UniquePtr<EVP_PKEY> key(decodeLeadingKey(pem));
  if (!key) {
    ERR_clear_error();
    ossl::UniquePtr<BIO> mem(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (mem) key.reset(PEM_read_bio_PrivateKey(mem.get(), nullptr, noPassword, nullptr));
  }
  OPENSSL_cleanse(pem.data(), pem.size());  // key material
  if (!key) {
    ossl::drainErrors();
    return Error{"", 0, "no usable private key in " + what + " (missing or encrypted)"};
  }
  return key;
}

Result<ossl::UniquePtr<EVP_PKEY>> readKey(const std::string& file) {
  auto bio = openFile(file);
  if (!bio) return Error{"", 0, "cannot read '" + file + "': " + std::strerror(errno)};
  return readKey(bio.get(), "'" + file + "'");
}

std::string subjectOf(X509* cert) {
  ossl::UniquePtr<BIO> mem(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(mem.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(mem.get(), &data);
  return std::string(data, len > 0 ? len : 0);
}

std::string sha256Of(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string keyTypeOf(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA-" + std::to_string(EVP_PKEY_get_bits(key));
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = "";
    size_t len = 0;
    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len);
    return std::string("EC-") + group;
  }
  return EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown";
}

std::time_t notAfterOf(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return timegm(&tm);
}

}  // namespace

std::vector<std::string> certificateNames(X509* cert) {
  std::vector<std::string> names;
  X509_NAME* subject = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, cn);
    if (len > 0) names.push_back(lower(std::string(reinterpret_cast<char*>(utf8), len)));
    OPENSSL_free(utf8);
  }
  ossl::UniquePtr<GENERAL_NAMES> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = gn->d.dNSName;
    std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                     ASN1_STRING_length(dns));
    name = lower(name);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

namespace {

// Serves `certs` (leaf first, then its chain) with `key` from `ctx`, plus the chain files.
Result<LoadedCert> useCertificate(SSL_CTX* ctx, std::vector<ossl::UniquePtr<X509>> certs,
                                  EVP_PKEY* key, const std::string& what,
                                  const std::vector<std::string>& chainFiles) {
  X509* leaf = certs.front().get();
  if (SSL_CTX_use_certificate(ctx, leaf) != 1)
    return Error{"", 0, "cannot use certificate " + what + ": " + ossl::drainErrors()};
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
    ossl::drainErrors();
    return Error{"", 0, "private key does not match certificate " + what};
  }
  // The chain belongs to the certificate just set (one chain per key type).
  for (size_t i = 1; i < certs.size(); ++i) SSL_CTX_add1_chain_cert(ctx, certs[i].get());
  for (const auto& chainFile : chainFiles) {
    auto chain = readCertificates(chainFile);
    if (!chain) return chain.error();
    for (auto& c : *chain) SSL_CTX_add1_chain_cert(ctx, c.get());
  }
  CertInfo info;
  info.subject = subjectOf(leaf);
  info.sha256 = sha256Of(leaf);
  info.keyType = keyTypeOf(key);
  info.names = certificateNames(leaf);
  info.notAfter = notAfterOf(leaf);
  return LoadedCert{std::move(info), std::move(certs.front())};
}

}  // namespace

Result<LoadedCert> loadCertificate(SSL_CTX* ctx, const std::string& certFile,
                                   const std::string& keyFile,
                                   const std::vector<std::string>& chainFiles) {
  auto certs = readCertificates(certFile);
  if (!certs) return certs.error();
  auto key = readKey(keyFile.empty() ? certFile : keyFile);
  if (!key) return key.error();
  auto loaded =
      useCertificate(ctx, std::move(certs.value()), key->get(), "'" + certFile + "'", chainFiles);
  if (loaded) loaded->info.file = certFile;
  return loaded;
}

Result<ParsedCert> parseCertificatePem(std::string_view certPem, std::string_view keyPem) {
  ossl::UniquePtr<BIO> certBio(BIO_new_mem_buf(certPem.data(), static_cast<int>(certPem.size())));
  ossl::UniquePtr<BIO> keyBio(BIO_new_mem_buf(keyPem.data(), static_cast<int>(keyPem.size())));
  if (!certBio || !keyBio) return Error{"", 0, "out of memory"};
  auto certs = readCertificates(certBio.get(), "the certificate PEM");
  if (!certs) return certs.error();
  auto key = readKey(keyBio.get(), "the key PEM");
  if (!key) return key.error();
  if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
    ossl::drainErrors();
    return Error{"", 0, "private key does not match the certificate"};
  }
  ParsedCert parsed;
  parsed.chain.reset(sk_X509_new_null());
  for (size_t i = 1; i < certs->size(); ++i)
    sk_X509_push(parsed.chain.get(), (*certs)[i].release());
  parsed.leaf = std::move(certs->front());
  parsed.key = std::move(key.value());
  return parsed;
}

std::string certificateSubject(X509* cert) {
  return subjectOf(cert);
}
std::string certificateSha256(X509* cert) {
  return sha256Of(cert);
}

}  // namespace tlsgate::tls
