#include "tls/cert_store.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <optional>
#include <thread>

#include "core/log.h"
#include "core/signal_free_thread.h"
#include "tls/cert_loader.h"
#include "tls/server_context.h"
#include "tls/session_tickets.h"

namespace tlsgate::tls {

namespace {

std::string ipKey(const net::Address& a) {
  return std::string(a.ipBytes());
}
std::string ipPortKey(const net::Address& a) {
  std::string key(a.ipBytes());
  key += static_cast<char>(a.port() >> 8);
  key += static_cast<char>(a.port() & 0xff);
  return key;
}

}  // namespace

namespace {

// One ssl_multicert.config entry loaded: its context and certificates, not yet indexed.
struct LoadedEntry {
  std::unique_ptr<CertEntry> entry;
  std::vector<ossl::UniquePtr<X509>> leafs;  // entry->certs' certificates, same order
  std::vector<std::string> warnings;
};

Result<LoadedEntry> loadEntry(const CertSpec& e, const ServerParams& params) {
  auto ctx = newServerContext(params);
  if (!ctx) return ctx.error();
  LoadedEntry out;
  out.entry = std::make_unique<CertEntry>();
  CertEntry& entry = *out.entry;
  entry.line = e.line;
  entry.tunnel = e.tunnel;
  entry.ctx = std::move(ctx.value());
  for (size_t i = 0; i < e.certFiles.size(); ++i) {
    // ssl_ca_name pairs with ssl_cert_name when both lists have the same length (one
    // chain per key type); otherwise every chain file applies to every certificate.
    std::vector<std::string> chain = e.caFiles;
    if (e.caFiles.size() == e.certFiles.size() && e.certFiles.size() > 1) chain = {e.caFiles[i]};
    auto loaded = loadCertificate(entry.ctx.get(), e.certFiles[i],
                                  e.keyFiles.empty() ? "" : e.keyFiles[i], chain);
    if (!loaded) return loaded.error();
    entry.certs.push_back(std::move(loaded->info));
    out.leafs.push_back(std::move(loaded->leaf));
  }
  // S11: this certificate's ticket settings (copied onto a connection at its ClientHello).
  applyTicketSettings(entry.ctx.get(), {e.ticketEnabled, e.ticketNumber});
  if (!e.ocspFile.empty()) {
    auto staple = OcspStaple::load(e.ocspFile, entry.ctx.get(), out.warnings);
    if (!staple) return staple.error();
    entry.ocsp = std::move(staple.value());
    entry.ocsp->install(entry.ctx.get());
  }
  return out;
}

// Entries share nothing, and one costs about half a millisecond of OpenSSL parsing and
// context set-up: thousands of certificates are seconds of work, spread here over every
// core. Results stay in file order; once an entry fails, later ones are not started (the
// first error in the file is the answer).
std::vector<std::optional<Result<LoadedEntry>>> loadEntries(const std::vector<CertSpec>& entries,
                                                            const ServerParams& params) {
  constexpr size_t kEntriesPerThread = 256;  // below this a thread is not worth starting
  const size_t n = entries.size();
  std::vector<std::optional<Result<LoadedEntry>>> out(n);
  std::atomic<size_t> next{0};
  std::atomic<size_t> firstError{n};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      if (i > firstError.load()) return;
      out[i].emplace(loadEntry(entries[i], params));
      if (*out[i]) continue;
      size_t seen = firstError.load();
      while (i < seen && !firstError.compare_exchange_weak(seen, i)) {
      }
    }
  };
  const size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                          1 + n / kEntriesPerThread);
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.push_back(startSignalFreeThread(work));
  work();
  for (auto& h : helpers) h.join();
  return out;
}

// D5: an expired certificate is still served (clients decide), but never silently.
void warnExpired(const CertEntry& entry, const std::string& multicertPath) {
  const std::time_t now = std::time(nullptr);
  for (const CertInfo& cert : entry.certs) {
    if (cert.notAfter == 0 || cert.notAfter >= now) continue;
    std::tm tm = {};
    char when[32] = "";
    if (gmtime_r(&cert.notAfter, &tm)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    log::warning("%s:%d: certificate '%s' (%s) expired: notAfter %s", multicertPath.c_str(),
                 entry.line, cert.file.c_str(), cert.subject.c_str(), when);
  }
}

}  // namespace

Result<std::unique_ptr<CertStore>> CertStore::build(const std::vector<CertSpec>& entries,
                                                    const std::string& multicertPath,
                                                    const ServerParams& params) {
  std::unique_ptr<CertStore> store(new CertStore());
  auto certless = newServerContext(params);
  if (!certless) return certless.error();
  store->certless_ = std::move(certless.value());

  auto loaded = loadEntries(entries, params);
  for (size_t i = 0; i < entries.size(); ++i) {
    const CertSpec& e = entries[i];
    // Every entry before the first failure was loaded (see loadEntries).
    Result<LoadedEntry>& result = *loaded[i];
    if (!result) return Error{multicertPath, e.line, result.error().message};
    for (const auto& w : result->warnings)
      log::warning("%s:%d: %s", multicertPath.c_str(), e.line, w.c_str());
    std::unique_ptr<CertEntry> entry = std::move(result->entry);
    warnExpired(*entry, multicertPath);
    // Remember which X509 each CertInfo describes, to report the certificate chosen.
    for (size_t c = 0; c < entry->certs.size(); ++c) {
      store->infoByCert_.emplace(result->leafs[c].get(), &entry->certs[c]);
      store->leafs_.push_back(std::move(result->leafs[c]));
    }

    const CertEntry* raw = entry.get();
    // S15: names for SNI come from every certificate's CN and DNS SANs; the first entry
    // that claims a name keeps it.
    for (const auto& info : entry->certs)
      for (const auto& name : info.names) {
        if (name.size() > 2 && name[0] == '*' && name[1] == '.')
          store->wildcard_.emplace(name.substr(2), raw);
        else
          store->exact_.emplace(name, raw);
      }
    if (e.destIp) {
      if (e.destIp->any) {
        if (!store->default_) store->default_ = raw;
      } else if (e.destIp->hasPort) {
        store->byIpPort_.emplace(ipPortKey(e.destIp->address), raw);
      } else {
        store->byIp_.emplace(ipKey(e.destIp->address), raw);
      }
    }
    store->entries_.push_back(std::move(entry));
  }
  return store;
}

Result<std::shared_ptr<const CertEntry>> loadStandaloneEntry(const std::string& certFile,
                                                             const std::string& keyFile,
                                                             const ServerParams& params) {
  CertSpec spec;
  spec.certFiles = {certFile};
  if (!keyFile.empty()) spec.keyFiles = {keyFile};
  auto loaded = loadEntry(spec, params);
  if (!loaded) return loaded.error();
  return std::shared_ptr<const CertEntry>(std::move(loaded->entry));
}

const CertEntry* CertStore::findByName(std::string_view sni) const {
  if (sni.empty()) return nullptr;
  std::string name(sni);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (auto it = exact_.find(name); it != exact_.end()) return it->second;
  return findWildcard(name);
}

const CertEntry* CertStore::findWildcard(std::string_view sni) const {
  // A wildcard covers exactly one label: "a.example.com" → "example.com".
  auto dot = sni.find('.');
  if (dot == std::string_view::npos || dot == 0) return nullptr;
  if (auto it = wildcard_.find(std::string(sni.substr(dot + 1))); it != wildcard_.end())
    return it->second;
  return nullptr;
}

const CertEntry* CertStore::findExact(std::string_view sni) const {
  if (sni.empty()) return nullptr;
  auto it = exact_.find(std::string(sni));
  return it == exact_.end() ? nullptr : it->second;
}

const CertEntry* CertStore::findByAddress(const net::Address& local) const {
  if (!local.isSet()) return nullptr;
  if (auto it = byIpPort_.find(ipPortKey(local)); it != byIpPort_.end()) return it->second;
  if (auto it = byIp_.find(ipKey(local)); it != byIp_.end()) return it->second;
  return nullptr;
}

const CertEntry* CertStore::select(std::string_view sni, const net::Address& local) const {
  // S11: SNI first (exact, then wildcard), then destination IP, then the default.
  if (const CertEntry* e = findByName(sni)) return e;
  if (const CertEntry* e = findByAddress(local)) return e;
  return default_;
}

const CertInfo* CertStore::info(const X509* cert) const {
  auto it = infoByCert_.find(cert);
  return it == infoByCert_.end() ? nullptr : it->second;
}

}  // namespace tlsgate::tls
