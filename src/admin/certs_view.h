// CertsView: GET /certs (README "Admin endpoint"). A large store is read a page at a time:
//
//   /certs                     entries 0..99 of the store in use, in ssl_multicert.config order
//   /certs?offset=200&limit=50 entries 200..249 (limit 1 to 1000; offset past the end: none)
//   /certs?name=shop.test      the entry that serves that SNI name, exact or wildcard
//
// Offsets and limits count entries (ssl_multicert.config lines that loaded), not rows: an
// entry with an RSA and an ECDSA certificate gives two rows of the same page. A page costs
// O(limit), whatever the size of the store.
#pragma once

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "admin/gateway_control.h"

namespace tlsgate::admin {

struct CertsQuery {
  static constexpr size_t kDefaultLimit = 100;
  static constexpr size_t kMaxLimit = 1000;
  size_t offset = 0;
  size_t limit = kDefaultLimit;
  std::optional<std::string> name;  // lowercase; then offset and limit are not given
};

// A query /certs refuses (400): which parameter and why.
struct CertsQueryError {
  std::string parameter;
  std::string problem;  // "limit: must be an integer from 1 to 1000, not '0'"
};

// The query string of GET /certs (undecoded, after '?'). Unknown or repeated parameters,
// numbers that are not plain decimal digits, a limit outside 1..1000, an empty name, and a
// name together with offset or limit are errors.
std::variant<CertsQuery, CertsQueryError> parseCertsQuery(std::string_view query);

// What the body of every /certs answer has besides the rows.
struct CertsContext {
  std::time_t now = 0;
  std::vector<ManagedCertificateRow> managed;  // the ACME client's, always all of them
  size_t storeExpired = 0;                     // certificates of the store past notAfter
};

// {"multicert", "total", "offset", "limit", "next", "certificates", "managed", "expired"}
std::string certsPageJson(const CertsQuery& query, const CertificatePage& page,
                          const CertsContext& context);
// {"multicert", "total", "name", "match", "certificates", "managed", "expired"}
std::string certsNamedJson(const std::string& name, const NamedCertificates& found,
                           const CertsContext& context);

}  // namespace tlsgate::admin
