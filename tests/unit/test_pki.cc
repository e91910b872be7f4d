#include "test_pki.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "tls/ossl.h"

namespace tlsgate::testing {

namespace {

ossl::UniquePtr<EVP_PKEY> newKey(KeyKind kind) {
  EVP_PKEY* key = kind == KeyKind::kRsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("key generation failed");
  return ossl::UniquePtr<EVP_PKEY>(key);
}

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

ossl::UniquePtr<X509> newCert(const std::string& cn, EVP_PKEY* key, X509* issuer, long serial) {
  ossl::UniquePtr<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 30);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  return cert;
}

void writePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  if (cert) PEM_write_X509(f, cert);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace

struct TestPki::Impl {
  ossl::UniquePtr<EVP_PKEY> caKey;
  ossl::UniquePtr<X509> ca;
  long serial = 2;
};

TestPki::TestPki() : impl_(new Impl) {
  char tmpl[] = "/tmp/tlsgate-pki-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  impl_->caKey = newKey(KeyKind::kEcdsa);
  impl_->ca = newCert("tlsgate test CA", impl_->caKey.get(), nullptr, 1);
  addExt(impl_->ca.get(), impl_->ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  X509_sign(impl_->ca.get(), impl_->caKey.get(), EVP_sha256());
  caFile_ = dir_ + "/ca.crt";
  writePem(caFile_, impl_->ca.get(), nullptr);
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  delete impl_;
}

TestCert TestPki::issue(const std::string& stem, const std::string& cn,
                        const std::vector<std::string>& dns, KeyKind kind) {
  auto key = newKey(kind);
  auto cert = newCert(cn, key.get(), impl_->ca.get(), impl_->serial++);
  if (!dns.empty()) {
    std::string san;
    for (const auto& d : dns) san += (san.empty() ? "DNS:" : ",DNS:") + d;
    addExt(cert.get(), impl_->ca.get(), NID_subject_alt_name, san.c_str());
  }
  X509_sign(cert.get(), impl_->caKey.get(), EVP_sha256());
  TestCert out{dir_ + "/" + stem + ".crt", dir_ + "/" + stem + ".key"};
  writePem(out.certFile, cert.get(), nullptr);
  writePem(out.keyFile, nullptr, key.get());
  return out;
}

}  // namespace tlsgate::testing
