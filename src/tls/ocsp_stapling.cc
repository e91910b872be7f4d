#include "tls/ocsp_stapling.h"

#include <algorithm>

#include "core/log.h"
#include "core/read_file.h"
#include "core/text.h"
#include "stats/counters.h"
#include "tls/cert_loader.h"
#include "tls/server_handshake.h"

namespace tlsgate::tls {

using stats::Counter;

namespace {

std::time_t toTime(const ASN1_GENERALIZEDTIME* t) {
  struct tm tm = {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

// The certificate in `chain` that issued `leaf`, or null.
X509* issuerOf(X509* leaf, STACK_OF(X509) * chain) {
  for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
    X509* candidate = sk_X509_value(chain, i);
    if (X509_check_issued(candidate, leaf) == X509_V_OK) return candidate;
  }
  return nullptr;
}

std::string describe(X509* leaf) {
  return inQuotes(certificateSubject(leaf));
}

}  // namespace

Result<std::unique_ptr<OcspStaple>> OcspStaple::load(
    const std::string& file, const std::vector<std::shared_ptr<const CertMaterial>>& certs,
    std::vector<std::string>& warnings) {
  auto der = readFile(file, file_limit::kOcspResponse);
  if (!der) return Error{"", 0, "ssl_ocsp_name: " + der.error().message};
  std::vector<LiveCert> live;  // parsed for the check; the staple keeps its own references
  Subjects subjects;
  for (const auto& cert : certs) {
    auto parsed = parseMaterial(*cert);
    if (!parsed) return parsed.error();
    live.push_back(std::move(parsed.value()));
    subjects.emplace_back(live.back().leaf.get(), cert->chain->certs.get());
  }
  return fromDer(std::move(*der), file, subjects, warnings);
}

Result<std::unique_ptr<OcspStaple>> OcspStaple::fromDer(std::string der, const std::string& file,
                                                        SSL_CTX* ctx,
                                                        std::vector<std::string>& warnings) {
  Subjects subjects;
  for (int more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); more == 1;
       more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    subjects.emplace_back(SSL_CTX_get0_certificate(ctx), chain);
  }
  return fromDer(std::move(der), file, subjects, warnings);
}

Result<std::unique_ptr<OcspStaple>> OcspStaple::fromDer(std::string der, const std::string& file,
                                                        const Subjects& subjects,
                                                        std::vector<std::string>& warnings) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::UniquePtr<OCSP_RESPONSE> response(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!response || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size())
    return Error{"", 0,
                 "ssl_ocsp_name '" + file + "' is not a DER OCSP response: " + ossl::drainErrors()};
  const int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
    return Error{"", 0,
                 "ssl_ocsp_name '" + file + "': the response status is '" +
                     OCSP_response_status_str(status) + "', not 'successful'"};
  ossl::UniquePtr<OCSP_BASICRESP> basic(OCSP_response_get1_basic(response.get()));
  if (!basic)
    return Error{"", 0, "ssl_ocsp_name '" + file + "': no basic response: " + ossl::drainErrors()};

  auto staple = std::make_unique<OcspStaple>();
  staple->file_ = file;
  // Every certificate of the entry: the response applies to those it names.
  for (auto [leaf, chain] : subjects) {
    X509* issuer = issuerOf(leaf, chain);
    if (!issuer) {
      warnings.push_back("ssl_ocsp_name '" + file + "': the issuer of " + describe(leaf) +
                         " is not in its chain (add it with ssl_ca_name): cannot tell whether "
                         "the response is about it, so it is not stapled");
      continue;
    }
    ossl::UniquePtr<OCSP_CERTID> id(OCSP_cert_to_id(nullptr, leaf, issuer));
    int certStatus = 0, reason = 0;
    ASN1_GENERALIZEDTIME *revoked = nullptr, *thisUpdate = nullptr, *nextUpdate = nullptr;
    if (!id || OCSP_resp_find_status(basic.get(), id.get(), &certStatus, &reason, &revoked,
                                     &thisUpdate, &nextUpdate) != 1)
      continue;
    X509_up_ref(leaf);
    staple->leafs_.emplace_back(leaf);
    staple->nextUpdate_ = toTime(nextUpdate);
    if (certStatus != V_OCSP_CERTSTATUS_GOOD)
      warnings.push_back("ssl_ocsp_name '" + file + "' says " + describe(leaf) + " is " +
                         OCSP_cert_status_str(certStatus) + " (stapled as it is)");
  }
  ERR_clear_error();
  if (staple->leafs_.empty())
    warnings.push_back("ssl_ocsp_name '" + file +
                       "' is about none of the entry's certificates: it will not be stapled");
  else if (staple->nextUpdate_ != 0 && staple->nextUpdate_ < std::time(nullptr))
    warnings.push_back("ssl_ocsp_name '" + file +
                       "' has expired (nextUpdate is past): it will "
                       "not be stapled until a fresh response is loaded");
  staple->der_ = std::move(der);
  return staple;
}

namespace {

int statusRequested(SSL* ssl, void*) {
  const OcspStaple* staple = ServerHandshake::ocspOf(ssl);
  return staple ? staple->onStatusRequest(ssl) : SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

void OcspStaple::installCallback(SSL_CTX* ctx) {
  SSL_CTX_set_tlsext_status_cb(ctx, statusRequested);
}

// The served certificate is a parse of the same DER (the store parses certificates per
// handshake): the same certificate, not the same object.
bool OcspStaple::matches(const X509* leaf) const {
  return leaf && std::any_of(leafs_.begin(), leafs_.end(),
                             [&](const auto& ours) { return X509_cmp(ours.get(), leaf) == 0; });
}

int OcspStaple::onStatusRequest(SSL* ssl) const {
  stats::CounterBlock* counters = ServerHandshake::countersOf(ssl);
  auto count = [&](Counter c) {
    if (counters) counters->add(c);
  };
  // OpenSSL has chosen the certificate to send by now (RSA or ECDSA of the entry).
  const X509* leaf = SSL_get_certificate(ssl);
  if (!matches(leaf)) {
    count(Counter::kSslOcspNotStapledMismatch);
    if (!warnedMismatch_.exchange(true))
      log::warning("OCSP response '%s' is not about the certificate served: not stapled",
                   file_.c_str());
    return SSL_TLSEXT_ERR_NOACK;
  }
  if (nextUpdate_ != 0 && nextUpdate_ < std::time(nullptr)) {
    count(Counter::kSslOcspNotStapledExpired);
    if (!warnedExpired_.exchange(true))
      log::warning("OCSP response '%s' has expired: not stapled", file_.c_str());
    return SSL_TLSEXT_ERR_NOACK;
  }
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(der_.data(), der_.size()));
  if (!copy) return SSL_TLSEXT_ERR_NOACK;
  SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der_.size()));  // takes it
  count(Counter::kSslOcspStapled);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace tlsgate::tls
