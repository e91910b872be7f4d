#include "admin/certs_view.h"

#include <algorithm>
#include <array>

#include "admin/admin_endpoint.h"
#include "admin/json_text.h"
#include "core/json.h"

namespace tlsgate::admin {

namespace {

enum Parameter : size_t { kOffset, kLimit, kName, kParameters };
constexpr std::array<std::string_view, kParameters> kParameterNames = {"offset", "limit", "name"};

// Plain decimal digits only ("+1", "-1", "1e3", " 1" are refused); at most 12 of them, so
// that no value overflows.
std::optional<size_t> decimal(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  size_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return value;
}

std::optional<CertsQueryError> apply(CertsQuery& q, Parameter p, const std::string& value) {
  const std::string name(kParameterNames[p]);
  if (p == kName) {
    if (value.empty()) return CertsQueryError{name, "name: empty (give an SNI name)"};
    std::string lower = value;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    q.name = std::move(lower);
    return std::nullopt;
  }
  std::optional<size_t> n = decimal(value);
  if (p == kOffset && !n)
    return CertsQueryError{name, "offset: must be a non-negative integer, not '" + value + "'"};
  if (p == kLimit && (!n || *n < 1 || *n > CertsQuery::kMaxLimit))
    return CertsQueryError{name, "limit: must be an integer from 1 to " +
                                     std::to_string(CertsQuery::kMaxLimit) + ", not '" + value +
                                     "'"};
  (p == kOffset ? q.offset : q.limit) = *n;
  return std::nullopt;
}

void appendRow(std::string& out, const CertificateRow& cert, std::time_t now) {
  out += "{\"file\": ";
  json::appendString(out, cert.file);
  out += ", \"multicert_line\": " + std::to_string(cert.line) + ", \"subject\": ";
  json::appendString(out, cert.subject);
  out += ", \"names\": ";
  appendStrings(out, cert.names);
  out += ", \"key_type\": ";
  json::appendString(out, cert.keyType);
  out += ", \"not_after\": ";
  json::appendString(out, isoUtc(cert.notAfter));
  out += ", \"seconds_left\": " + std::to_string(static_cast<long long>(cert.notAfter - now));
  out += cert.notAfter < now ? ", \"expired\": true" : ", \"expired\": false";
  out += ", \"sha256\": ";
  json::appendString(out, cert.sha256);
  out += cert.isDefault ? ", \"default\": true}" : ", \"default\": false}";
}

void appendManaged(std::string& out, const ManagedCertificateRow& cert, std::time_t now) {
  out += "{\"id\": ";
  json::appendString(out, cert.id);
  out += ", \"source\": ";
  json::appendString(out, cert.source);
  out += ", \"names\": ";
  appendStrings(out, cert.names);
  out += ", \"not_after\": ";
  json::appendString(out, isoUtc(cert.notAfter));
  out += ", \"seconds_left\": " + std::to_string(static_cast<long long>(cert.notAfter - now));
  out += ", \"next_renewal\": ";
  json::appendString(out, isoUtc(cert.nextRenewal));
  out += "}";
}

// "certificates": [...], "managed": [...], "expired": N}
void appendRowsAndTail(std::string& out, const std::vector<CertificateRow>& rows,
                       const CertsContext& context) {
  out += ", \"certificates\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ", ";
    appendRow(out, rows[i], context.now);
  }
  out += "], \"managed\": [";
  size_t expired = context.storeExpired;
  for (size_t i = 0; i < context.managed.size(); ++i) {
    if (i) out += ", ";
    appendManaged(out, context.managed[i], context.now);
    expired += context.managed[i].notAfter < context.now ? 1 : 0;
  }
  out += "], \"expired\": " + std::to_string(expired) + "}\n";
}

}  // namespace

std::variant<CertsQuery, CertsQueryError> parseCertsQuery(std::string_view query) {
  CertsQuery q;
  std::array<bool, kParameters> seen = {};
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2"
    size_t eq = pair.find('=');
    std::string key = percentDecode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : percentDecode(pair.substr(eq + 1));
    auto known = std::find(kParameterNames.begin(), kParameterNames.end(), key);
    if (known == kParameterNames.end())
      return CertsQueryError{key, key + ": unknown parameter (offset, limit or name)"};
    auto p = static_cast<Parameter>(known - kParameterNames.begin());
    if (seen[p]) return CertsQueryError{key, key + ": given twice"};
    seen[p] = true;
    if (auto bad = apply(q, p, value)) return *bad;
  }
  if (q.name && (seen[kOffset] || seen[kLimit]))
    return CertsQueryError{"name", "name: cannot be combined with offset or limit"};
  return q;
}

std::string certsPageJson(const CertsQuery& query, const CertificatePage& page,
                          const CertsContext& context) {
  std::string out = "{\"multicert\": ";
  json::appendString(out, page.multicertPath);
  out += ", \"total\": " + std::to_string(page.total) +
         ", \"offset\": " + std::to_string(query.offset) +
         ", \"limit\": " + std::to_string(query.limit) + ", \"next\": ";
  // The store may have shrunk since the previous page (a reload): an offset past the end is
  // an empty page, not an error.
  const size_t end = query.offset + query.limit;
  out += end < page.total ? std::to_string(end) : "null";
  appendRowsAndTail(out, page.rows, context);
  return out;
}

std::string certsNamedJson(const std::string& name, const NamedCertificates& found,
                           const CertsContext& context) {
  std::string out = "{\"multicert\": ";
  json::appendString(out, found.multicertPath);
  out += ", \"total\": " + std::to_string(found.total) + ", \"name\": ";
  json::appendString(out, name);
  out += ", \"match\": ";
  out += found.match == NameMatch::kExact      ? "\"exact\""
         : found.match == NameMatch::kWildcard ? "\"wildcard\""
                                               : "null";
  appendRowsAndTail(out, found.rows, context);
  return out;
}

}  // namespace tlsgate::admin
