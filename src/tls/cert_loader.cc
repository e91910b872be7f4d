#include "tls/cert_loader.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/read_file.h"
#include "core/text.h"
#include "tls/cert_facts.h"

namespace tlsgate::tls {

namespace {

// `what` names the source in messages: "'file'" or "the PEM given".
Result<std::vector<ossl::UniquePtr<X509>>> readCertificates(BIO* bio, const std::string& what) {
  std::vector<ossl::UniquePtr<X509>> certs;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) certs.emplace_back(x);
  ERR_clear_error();  // the loop ends on "no start line"
  if (certs.empty()) return Error{"", 0, "no PEM certificate in " + what};
  return certs;
}

// The key through the store's per-thread decoders (cert_material.h): OpenSSL 3.0's own
// PEM_read_bio_PrivateKey builds a decoder chain for every key it reads.
Result<ossl::UniquePtr<EVP_PKEY>> readKey(BIO* bio, const std::string& what) {
  std::string pem;
  char chunk[4096];
  for (int n; (n = BIO_read(bio, chunk, sizeof chunk)) > 0;) pem.append(chunk, n);
  OPENSSL_cleanse(chunk, sizeof chunk);
  ossl::UniquePtr<EVP_PKEY> key = privateKeyOfPem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());  // key material
  if (!key) {
    ossl::drainErrors();
    return Error{"", 0, "no usable private key in " + what + " (missing or encrypted)"};
  }
  return key;
}

// Once per name, as SSL_load_client_CA_file lists them.
void addName(STACK_OF(X509_NAME) * names, const X509_NAME* name) {
  for (int i = 0; i < sk_X509_NAME_num(names); ++i)
    if (X509_NAME_cmp(sk_X509_NAME_value(names, i), name) == 0) return;
  sk_X509_NAME_push(names, X509_NAME_dup(name));
}

}  // namespace

// D4: through the bounded reader, never OpenSSL's own file functions (which would read a
// FIFO or /dev/zero until memory runs out).
Result<std::vector<ossl::UniquePtr<X509>>> readCertificateFile(const std::string& file,
                                                               size_t maxBytes) {
  auto pem = readFile(file, maxBytes);
  if (!pem) return Error{"", 0, pem.error().toString()};
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  if (!bio) return Error{"", 0, "out of memory reading '" + file + "'"};
  return readCertificates(bio.get(), "'" + file + "'");
}

Result<ossl::UniquePtr<EVP_PKEY>> readPrivateKeyFile(const std::string& file) {
  auto pem = readFile(file, file_limit::kCertificate);
  if (!pem) return Error{"", 0, pem.error().toString()};
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  auto key = bio ? readKey(bio.get(), "'" + file + "'")
                 : Result<ossl::UniquePtr<EVP_PKEY>>(Error{"", 0, "out of memory"});
  OPENSSL_cleanse(pem->data(), pem->size());  // key material
  return key;
}

Status loadCaFile(X509_STORE* store, const std::string& file, STACK_OF(X509_NAME) * names) {
  auto pem = readFile(file, file_limit::kCaBundle);
  if (!pem) return Error{"", 0, pem.error().toString()};
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  ossl::UniquePtr<STACK_OF(X509_INFO)> infos(
      bio ? PEM_X509_INFO_read_bio(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!infos)
    return Error{"", 0, "cannot read CA certificates from '" + file + "': " + ossl::drainErrors()};
  int certs = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos.get()); ++i) {
    X509_INFO* info = sk_X509_INFO_value(infos.get(), i);
    if (info->crl) X509_STORE_add_crl(store, info->crl);
    if (!info->x509) continue;
    ++certs;
    X509_STORE_add_cert(store, info->x509);
    if (names) addName(names, X509_get_subject_name(info->x509));
  }
  ERR_clear_error();  // "already in hash table" for a CA listed twice
  if (certs == 0) return Error{"", 0, "no CA certificate in '" + file + "'"};
  return Ok{};
}

namespace {

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

}  // namespace

std::vector<std::string> certificateNames(X509* cert) {
  return certFactsOf(cert).names;
}

namespace {

// Serves `certs` (leaf first, then its chain) with `key` from `ctx`, plus the chain files.
Result<LoadedCert> useCertificate(SSL_CTX* ctx, std::vector<ossl::UniquePtr<X509>> certs,
                                  EVP_PKEY* key, const std::string& what,
                                  const std::vector<std::string>& chainFiles) {
  X509* leaf = certs.front().get();
  // D3: SSL_CTX_use_PrivateKey files a key of another type than the certificate in that
  // type's own slot without a word, and every handshake then fails: check the pair first.
  if (X509_check_private_key(leaf, key) != 1) {
    ossl::drainErrors();
    return Error{"", 0, "private key does not match certificate " + what};
  }
  if (SSL_CTX_use_certificate(ctx, leaf) != 1)
    return Error{"", 0, "cannot use certificate " + what + ": " + ossl::drainErrors()};
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
    ossl::drainErrors();
    return Error{"", 0, "private key does not match certificate " + what};
  }
  // The chain belongs to the certificate just set (one chain per key type).
  for (size_t i = 1; i < certs.size(); ++i) SSL_CTX_add1_chain_cert(ctx, certs[i].get());
  for (const auto& chainFile : chainFiles) {
    auto chain = readCertificateFile(chainFile, file_limit::kCaBundle);
    if (!chain) return chain.error();
    for (auto& c : *chain) SSL_CTX_add1_chain_cert(ctx, c.get());
  }
  CertFacts facts = certFactsOf(leaf);
  CertInfo info;
  info.subject = std::move(facts.subject);
  info.sha256 = sha256Of(leaf);
  info.keyType = keyTypeOf(key);
  info.names = std::move(facts.names);
  info.notAfter = facts.notAfter;
  return LoadedCert{std::move(info), std::move(certs.front())};
}

}  // namespace

Result<LoadedCert> loadCertificate(SSL_CTX* ctx, const std::string& certFile,
                                   const std::string& keyFile,
                                   const std::vector<std::string>& chainFiles) {
  auto certs = readCertificateFile(certFile, file_limit::kCertificate);
  if (!certs) return certs.error();
  const std::string& keySource = keyFile.empty() ? certFile : keyFile;
  auto key = readPrivateKeyFile(keySource);
  if (!key) return key.error();
  std::string what = "'" + certFile + "'";
  if (keySource != certFile) what = concat({what, " (key '", keySource, "')"});
  auto loaded = useCertificate(ctx, std::move(certs.value()), key->get(), what, chainFiles);
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

Result<LoadedCert> loadCertificatePem(SSL_CTX* ctx, std::string_view certPem,
                                      std::string_view keyPem, const std::string& what) {
  ossl::UniquePtr<BIO> certBio(BIO_new_mem_buf(certPem.data(), static_cast<int>(certPem.size())));
  ossl::UniquePtr<BIO> keyBio(BIO_new_mem_buf(keyPem.data(), static_cast<int>(keyPem.size())));
  if (!certBio || !keyBio) return Error{"", 0, "out of memory"};
  auto certs = readCertificates(certBio.get(), what);
  if (!certs) return certs.error();
  auto key = readKey(keyBio.get(), what + "'s key");
  if (!key) return key.error();
  return useCertificate(ctx, std::move(certs.value()), key->get(), what, {});
}

std::string certificateSubject(X509* cert) {
  return rfc2253(X509_get_subject_name(cert));
}
std::string certificateSha256(X509* cert) {
  return sha256Of(cert);
}

}  // namespace tlsgate::tls
