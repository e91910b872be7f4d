// ossl::UniquePtr<T>: the one owner of every OpenSSL object (STYLE rule 1).
//
// This header is the only place in tlsgate that calls an OpenSSL *_free function; everything
// else holds objects through UniquePtr and borrows raw pointers.
#pragma once

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "tlsgate needs OpenSSL 3.0 or newer"  // STYLE rule 2: the one version check.
#endif

namespace tlsgate::ossl {

template <class T>
struct Deleter;

// clang-format 14 and 19 lay out a function body inside a macro differently.
// clang-format off
#define TLSGATE_OSSL_DELETER(T, fn)        \
  template <>                              \
  struct Deleter<T> {                      \
    void operator()(T* p) const { fn(p); } \
  };
// clang-format on
TLSGATE_OSSL_DELETER(SSL, SSL_free)
TLSGATE_OSSL_DELETER(SSL_CTX, SSL_CTX_free)
TLSGATE_OSSL_DELETER(X509, X509_free)
TLSGATE_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free)
TLSGATE_OSSL_DELETER(BIO, BIO_free_all)
TLSGATE_OSSL_DELETER(BIO_METHOD, BIO_meth_free)
TLSGATE_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free)
TLSGATE_OSSL_DELETER(SSL_SESSION, SSL_SESSION_free)
TLSGATE_OSSL_DELETER(X509_STORE, X509_STORE_free)
TLSGATE_OSSL_DELETER(EVP_CIPHER, EVP_CIPHER_free)
TLSGATE_OSSL_DELETER(EVP_MD, EVP_MD_free)
TLSGATE_OSSL_DELETER(OCSP_RESPONSE, OCSP_RESPONSE_free)
TLSGATE_OSSL_DELETER(OCSP_BASICRESP, OCSP_BASICRESP_free)
TLSGATE_OSSL_DELETER(OCSP_CERTID, OCSP_CERTID_free)
TLSGATE_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free)  // the ACME client (acme/)
TLSGATE_OSSL_DELETER(ECDSA_SIG, ECDSA_SIG_free)
TLSGATE_OSSL_DELETER(X509_REQ, X509_REQ_free)
TLSGATE_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free)
TLSGATE_OSSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free)
TLSGATE_OSSL_DELETER(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)  // and ASN1_TIME (one type)
TLSGATE_OSSL_DELETER(GENERAL_NAME, GENERAL_NAME_free)
TLSGATE_OSSL_DELETER(X509_NAME, X509_NAME_free)  // the certificate store (cert_facts)
template <>
struct Deleter<STACK_OF(X509_NAME)> {
  void operator()(STACK_OF(X509_NAME) * s) const { sk_X509_NAME_pop_free(s, X509_NAME_free); }
};
template <>
struct Deleter<STACK_OF(X509_INFO)> {
  void operator()(STACK_OF(X509_INFO) * s) const { sk_X509_INFO_pop_free(s, X509_INFO_free); }
};
template <>
struct Deleter<STACK_OF(X509)> {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
template <>
struct Deleter<STACK_OF(X509_EXTENSION)> {
  void operator()(STACK_OF(X509_EXTENSION) * s) const {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};
#undef TLSGATE_OSSL_DELETER

template <class T>
using UniquePtr = std::unique_ptr<T, Deleter<T>>;

// An array OpenSSL allocated for the caller (SSL_client_hello_get1_extensions_present).
struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
template <class T>
using OpenSslArray = std::unique_ptr<T[], OpenSslFree>;

// A new reference to an object someone else owns (X509_up_ref & co.).
inline UniquePtr<X509> upRef(X509* x) {
  X509_up_ref(x);
  return UniquePtr<X509>(x);
}

// Drains OpenSSL's thread-local error queue into one line (STYLE rule 6: exactly once per
// failed operation). Returns "" when the queue was empty.
std::string drainErrors();

}  // namespace tlsgate::ossl
