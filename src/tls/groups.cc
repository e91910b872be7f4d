#include "tls/groups.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "tls/ossl.h"

namespace tlsgate::tls {

namespace {

constexpr const char* kPostQuantumServer = "X25519MLKEM768:X25519/P-256:P-384";
constexpr const char* kPostQuantumClient = "*X25519MLKEM768:*X25519:P-256:P-384";
constexpr const char* kClassic = "X25519:P-256:P-384";

// Whether the library takes `list` for a server context.
bool accepts(const std::string& list) {
  ossl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  bool ok = ctx && SSL_CTX_set1_groups_list(ctx.get(), list.c_str()) == 1;
  ERR_clear_error();
  return ok;
}

// The names of `list`, without the '*', '?' and '-' prefixes and without DEFAULT.
std::vector<std::string> namesOf(const std::string& list, std::vector<bool>& optional) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find_first_of(":/", start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    size_t skip = item.find_first_not_of("*?-");
    bool isOptional = item.substr(0, skip == std::string::npos ? item.size() : skip).find('?') !=
                      std::string::npos;
    item = skip == std::string::npos ? "" : item.substr(skip);
    if (!item.empty() && !usesDefaultKeyword(item)) {
      names.push_back(item);
      optional.push_back(isOptional);
    }
    start = end + 1;
  }
  return names;
}

}  // namespace

const GroupDefaults& defaultGroups() {
  static const GroupDefaults defaults = [] {
    GroupDefaults d;
    d.postQuantum = accepts(kPostQuantumServer);
    d.server = d.postQuantum ? kPostQuantumServer : kClassic;
    d.client = d.postQuantum ? kPostQuantumClient : kClassic;
    return d;
  }();
  return defaults;
}

bool usesDefaultKeyword(const std::string& list) {
  std::string upper(list);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return upper.find("DEFAULT") != std::string::npos;
}

Status checkGroups(const std::string& list) {
  if (list.empty()) return Error{"", 0, "no group listed"};
  if (accepts(list)) return Ok{};
  std::vector<bool> optional;
  std::vector<std::string> names = namesOf(list, optional);
  for (size_t i = 0; i < names.size(); ++i)
    if (!optional[i] && !accepts(names[i]))
      return Error{"", 0,
                   "unknown group '" + names[i] + "' (not implemented by " +
                       OpenSSL_version(OPENSSL_VERSION) + ")"};
  return Error{"", 0,
               "'" + list + "' is not a group list " + OpenSSL_version(OPENSSL_VERSION) +
                   " takes (tuples '/' and the prefixes '*', '?' and '-' need OpenSSL 3.5)"};
}

}  // namespace tlsgate::tls
