#include "tls/cert_facts.h"

#include <openssl/x509v3.h>

#include <algorithm>

namespace tlsgate::tls {

namespace {

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// One DER element: where it starts (tag included), its content and where it ends.
struct Tlv {
  const unsigned char* start = nullptr;
  const unsigned char* content = nullptr;
  const unsigned char* end = nullptr;
  int tag = 0;
  int cls = 0;
  long size() const { return static_cast<long>(end - start); }
};

// Reads the element at `p` (not past `end`) and moves `p` past it. DER only: an
// indefinite length is refused.
bool readTlv(const unsigned char*& p, const unsigned char* end, Tlv& out) {
  if (p >= end) return false;
  out.start = p;
  long len = 0;
  const int flags = ASN1_get_object(&p, &len, &out.tag, &out.cls, static_cast<long>(end - p));
  if ((flags & 0x80) || (flags & 0x01) || len > end - p) return false;
  out.content = p;
  p += len;
  out.end = p;
  return true;
}

bool isSequence(const Tlv& t) {
  return t.cls == V_ASN1_UNIVERSAL && t.tag == V_ASN1_SEQUENCE;
}
bool isContext(const Tlv& t, int tag) {
  return t.cls == V_ASN1_CONTEXT_SPECIFIC && t.tag == tag;
}

std::time_t timeOf(const Tlv& t) {
  const unsigned char* p = t.start;
  ossl::UniquePtr<ASN1_TIME> time(d2i_ASN1_TIME(nullptr, &p, t.size()));
  std::tm tm = {};
  if (!time || ASN1_TIME_to_tm(time.get(), &tm) != 1) return 0;
  return timegm(&tm);
}

// The subjectAltName of an Extensions element (null when it has none).
ossl::UniquePtr<GENERAL_NAMES> sansOf(const Tlv& extensions) {
  const unsigned char* p = extensions.start;
  ossl::UniquePtr<STACK_OF(X509_EXTENSION)> exts(
      d2i_X509_EXTENSIONS(nullptr, &p, extensions.size()));
  if (!exts) return nullptr;
  const int at = X509v3_get_ext_by_NID(exts.get(), NID_subject_alt_name, -1);
  if (at < 0) return nullptr;
  return ossl::UniquePtr<GENERAL_NAMES>(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(X509v3_get_ext(exts.get(), at))));
}

}  // namespace

std::vector<std::string> namesOf(const X509_NAME* subject, const GENERAL_NAMES* sans) {
  std::vector<std::string> names;
  const int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, cn);
    if (len > 0) names.push_back(lower(std::string(reinterpret_cast<char*>(utf8), len)));
    OPENSSL_free(utf8);
  }
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = gn->d.dNSName;
    std::string name = lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                         ASN1_STRING_length(dns)));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

std::string rfc2253(const X509_NAME* name) {
  ossl::UniquePtr<BIO> mem(BIO_new(BIO_s_mem()));
  if (!mem) return "";
  X509_NAME_print_ex(mem.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(mem.get(), &data);
  return std::string(data, len > 0 ? len : 0);
}

std::optional<CertFacts> certFactsOfDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = p + der.size();
  Tlv cert, tbs;
  if (!readTlv(p, end, cert) || !isSequence(cert) || p != end) return std::nullopt;
  p = cert.content;
  if (!readTlv(p, cert.end, tbs) || !isSequence(tbs)) return std::nullopt;
  // TBSCertificate: [0] version?, serial, signature, issuer, validity, subject, spki,
  // [1] issuerUID?, [2] subjectUID?, [3] extensions?
  std::vector<Tlv> fields;
  p = tbs.content;
  for (Tlv t; p < tbs.end;) {
    if (!readTlv(p, tbs.end, t)) return std::nullopt;
    fields.push_back(t);
  }
  const size_t first = !fields.empty() && isContext(fields[0], 0) ? 1 : 0;
  if (fields.size() < first + 6) return std::nullopt;
  const Tlv& validity = fields[first + 3];
  const Tlv& subjectTlv = fields[first + 4];
  const Tlv& spki = fields[first + 5];
  if (!isSequence(validity) || !isSequence(subjectTlv) || !isSequence(spki)) return std::nullopt;
  Tlv notBefore, notAfter;
  p = validity.content;
  if (!readTlv(p, validity.end, notBefore) || !readTlv(p, validity.end, notAfter))
    return std::nullopt;
  p = subjectTlv.start;
  ossl::UniquePtr<X509_NAME> subject(d2i_X509_NAME(nullptr, &p, subjectTlv.size()));
  if (!subject) return std::nullopt;
  ossl::UniquePtr<GENERAL_NAMES> sans;
  for (size_t i = first + 6; i < fields.size(); ++i) {
    if (!isContext(fields[i], 3)) continue;
    Tlv extensions;
    p = fields[i].content;
    if (!readTlv(p, fields[i].end, extensions)) return std::nullopt;
    sans = sansOf(extensions);
  }
  CertFacts facts;
  facts.names = namesOf(subject.get(), sans.get());
  facts.subject = rfc2253(subject.get());
  facts.notAfter = timeOf(notAfter);
  facts.publicKey =
      std::string_view(reinterpret_cast<const char*>(spki.start), static_cast<size_t>(spki.size()));
  return facts;
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

CertFacts certFactsOf(X509* cert) {
  ossl::UniquePtr<GENERAL_NAMES> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  CertFacts facts;
  facts.names = namesOf(X509_get_subject_name(cert), sans.get());
  facts.subject = rfc2253(X509_get_subject_name(cert));
  std::tm tm = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) facts.notAfter = timegm(&tm);
  return facts;
}

}  // namespace tlsgate::tls
