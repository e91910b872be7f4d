#include "tls/managed_certs.h"

#include <cctype>

#include "tls/cert_store.h"

namespace tlsgate::tls {

namespace {

// A certificate entry of its own, as an ssl_multicert.config line with only ssl_cert_name
// would be (line 0: it comes from no file), served on the snapshot's contexts.
Result<std::shared_ptr<const CertEntry>> makeEntry(const std::string& chainPem,
                                                   const std::string& keyPem,
                                                   const std::string& what) {
  return pemEntry(chainPem, keyPem, what);
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

std::shared_ptr<const ManagedCertStore::View> ManagedCertStore::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

// Copy, change, swap: readers keep the view they hold.
template <typename Change>
void ManagedCertStore::update(Change change) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<View>(*view_);
  change(*next);
  view_ = std::move(next);
}

Status ManagedCertStore::put(const ManagedCert& cert) {
  auto entry = makeEntry(cert.chainPem, cert.keyPem, "acme:" + cert.id);
  if (!entry) return entry.error();
  ManagedCertStatus status{cert.id, cert.names, "acme", cert.notAfter, cert.nextRenewal};
  update([&](View& v) {
    if (auto old = v.byId.find(cert.id); old != v.byId.end())
      for (const auto& name : old->second.status.names) v.byName.erase(lowered(name));
    for (const auto& name : cert.names) v.byName[lowered(name)] = *entry;
    v.byId[cert.id] = Served{std::move(status), *entry};
  });
  return Ok{};
}

void ManagedCertStore::remove(const std::string& id) {
  update([&](View& v) {
    auto old = v.byId.find(id);
    if (old == v.byId.end()) return;
    for (const auto& name : old->second.status.names) v.byName.erase(lowered(name));
    v.byId.erase(old);
  });
}

Status ManagedCertStore::putChallenge(const std::string& name, const std::string& certPem,
                                      const std::string& keyPem) {
  auto entry = makeEntry(certPem, keyPem, "acme tls-alpn-01 challenge for " + name);
  if (!entry) return entry.error();
  update([&](View& v) { v.challenges[lowered(name)] = *entry; });
  return Ok{};
}

void ManagedCertStore::removeChallenge(const std::string& name) {
  update([&](View& v) { v.challenges.erase(lowered(name)); });
}

void ManagedCertStore::putToken(const std::string& token, const std::string& keyAuthorization) {
  update([&](View& v) { v.tokens[token] = keyAuthorization; });
}

void ManagedCertStore::removeToken(const std::string& token) {
  update([&](View& v) { v.tokens.erase(token); });
}

std::shared_ptr<const CertEntry> ManagedCertStore::find(std::string_view sni) const {
  if (sni.empty()) return nullptr;
  auto v = view();
  if (v->byName.empty()) return nullptr;
  if (auto it = v->byName.find(std::string(sni)); it != v->byName.end()) return it->second;
  // A wildcard covers one label: a.b.example -> *.b.example.
  const size_t dot = sni.find('.');
  if (dot == std::string_view::npos) return nullptr;
  std::string wildcard = "*" + std::string(sni.substr(dot));
  if (auto it = v->byName.find(wildcard); it != v->byName.end()) return it->second;
  return nullptr;
}

std::shared_ptr<const CertEntry> ManagedCertStore::challenge(std::string_view sni) const {
  if (sni.empty()) return nullptr;
  auto v = view();
  auto it = v->challenges.find(std::string(sni));
  return it == v->challenges.end() ? nullptr : it->second;
}

std::optional<std::string> ManagedCertStore::keyAuthorization(std::string_view token) const {
  auto v = view();
  auto it = v->tokens.find(std::string(token));
  if (it == v->tokens.end()) return std::nullopt;
  return it->second;
}

std::vector<ManagedCertStatus> ManagedCertStore::list() const {
  auto v = view();
  std::vector<ManagedCertStatus> out;
  for (const auto& [id, served] : v->byId) out.push_back(served.status);
  return out;
}

bool ManagedCertStore::empty() const {
  return view()->byId.empty();
}

std::string acmeNameProblem(std::string_view name) {
  if (name.starts_with("*."))
    return "wildcard names need the dns-01 challenge, which tlsgate does not answer";
  if (name.size() > 253 || name.find('.') == std::string_view::npos) return "not a DNS name";
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return "not a DNS name";
  return "";
}

}  // namespace tlsgate::tls
