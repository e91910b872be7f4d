#include "tls/cert_store.h"

#include <algorithm>
#include <cctype>

#include "core/log.h"
#include "stats/counters.h"
#include "tls/cert_loading.h"
#include "tls/parsed_cert_cache.h"
#include "tls/server_context.h"

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

// D5: an expired certificate is still served (clients decide), but never silently.
void warnExpired(const CertEntry& entry, const std::string& multicertPath, std::time_t now) {
  for (const auto& cert : entry.certs) {
    if (cert->notAfter == 0 || cert->notAfter >= now) continue;
    std::tm tm = {};
    char when[32] = "";
    if (gmtime_r(&cert->notAfter, &tm)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    log::warning("%s:%d: certificate '%s' (%s) expired: notAfter %s", multicertPath.c_str(),
                 entry.line, cert->file.c_str(), cert->subject.c_str(), when);
  }
}

// Puts a certificate on an entry's context (built at load), or on a connection.
bool useOn(SSL_CTX* ctx, const LiveCert& live, const CertMaterial& m) {
  return SSL_CTX_use_cert_and_key(ctx, live.leaf.get(), live.key.get(), m.chain->certs.get(), 1) ==
         1;
}
bool useOn(SSL* ssl, const LiveCert& live, const CertMaterial& m) {
  return SSL_use_cert_and_key(ssl, live.leaf.get(), live.key.get(), m.chain->certs.get(), 1) == 1;
}

}  // namespace

CertStore::~CertStore() = default;

namespace {

// Stores are built one at a time (at start, then on the reload thread): one writer.
stats::CounterBlock& loadCounters() {
  static stats::CounterBlock& block = stats::backgroundCounters().newBlock();
  return block;
}

}  // namespace

Result<std::shared_ptr<const CertEntry>> loadStandaloneEntry(const std::string& certFile,
                                                             const std::string& keyFile,
                                                             const ServerParams&) {
  ChainPool chains;
  auto loaded = loadMaterial({certFile, keyFile, {}}, chains);
  if (!loaded) return loaded.error();
  auto entry = std::make_shared<CertEntry>();
  entry->certs.push_back(std::move(loaded->material));
  return std::shared_ptr<const CertEntry>(std::move(entry));
}

Result<std::shared_ptr<const CertEntry>> pemEntry(std::string_view certPem, std::string_view keyPem,
                                                  const std::string& what) {
  ChainPool chains;
  auto material = materialFromPem(certPem, keyPem, what, chains);
  if (!material) return material.error();
  auto entry = std::make_shared<CertEntry>();
  entry->certs.push_back(std::move(material.value()));
  return std::shared_ptr<const CertEntry>(std::move(entry));
}

// The parts of a build: load every certificate (cert_loading.cc), then put entries
// together in file order and index them.
struct CertStore::Builder {
  CertStore& store;
  const std::string& multicertPath;
  const CertStoreOptions& options;

  Status addEntry(const CertSpec& spec, const std::vector<LoadedCertificate*>& certs);
  Status contextOf(CertEntry& entry, const ServerParams& params);
  void index(const CertSpec& spec, const CertEntry* entry);
  Status trampoline(const ServerParams& params);
};

Status CertStore::Builder::addEntry(const CertSpec& spec,
                                    const std::vector<LoadedCertificate*>& certs) {
  auto entry = std::make_unique<CertEntry>();
  entry->line = spec.line;
  entry->tunnel = spec.tunnel;
  entry->tickets = {spec.ticketEnabled, spec.ticketNumber};
  for (LoadedCertificate* cert : certs) {
    const auto& loaded = *cert->result;
    if (!loaded) return loaded.error();
    entry->certs.push_back(loaded.value()->material);
  }
  if (!spec.ocspFile.empty()) {
    std::vector<std::string> warnings;
    auto staple = OcspStaple::load(spec.ocspFile, entry->certs, warnings);
    if (!staple) return staple.error();
    for (const auto& w : warnings)
      log::warning("%s:%d: %s", multicertPath.c_str(), spec.line, w.c_str());
    entry->ocsp = std::move(staple.value());
  }
  warnExpired(*entry, multicertPath, std::time(nullptr));
  index(spec, entry.get());
  store.entries_.push_back(std::move(entry));
  return Ok{};
}

void CertStore::Builder::index(const CertSpec& spec, const CertEntry* entry) {
  // S15: names for SNI come from every certificate's CN and DNS SANs; the first entry
  // that claims a name keeps it.
  for (const auto& cert : entry->certs)
    for (const auto& name : cert->names) {
      if (name.size() > 2 && name[0] == '*' && name[1] == '.')
        store.wildcard_.emplace(name.substr(2), entry);
      else
        store.exact_.emplace(name, entry);
    }
  if (!spec.destIp) return;
  if (spec.destIp->any) {
    if (!store.default_) store.default_ = entry;
  } else if (spec.destIp->hasPort) {
    store.byIpPort_.emplace(ipPortKey(spec.destIp->address), entry);
  } else {
    store.byIp_.emplace(ipKey(spec.destIp->address), entry);
  }
}

// A context with the snapshot's settings and `entry`'s certificates (which it holds).
Status CertStore::Builder::contextOf(CertEntry& entry, const ServerParams& params) {
  auto ctx = newServerContext(params);
  if (!ctx) return ctx.error();
  entry.ctx = std::move(ctx.value());
  for (const auto& cert : entry.certs) {
    auto live = parseMaterial(*cert);
    if (!live) return Error{multicertPath, entry.line, live.error().message};
    if (!useOn(entry.ctx.get(), *live, *cert))
      return Error{multicertPath, entry.line,
                   "cannot use certificate '" + cert->file + "': " + ossl::drainErrors()};
    entry.served.add(live->leaf.get(), cert.get());
  }
  return Ok{};
}

// S6: one context every connection starts on, the default entry's certificates on it; in
// a small store, one per entry too.
Status CertStore::Builder::trampoline(const ServerParams& params) {
  const bool contextEach = store.entries_.size() <= kContextPerEntryUpTo;
  for (auto& entry : store.entries_) {
    if (entry.get() != store.default_ && !contextEach) continue;
    if (auto st = contextOf(*entry, params); !st) return st;
  }
  if (store.default_) {
    SSL_CTX* ctx = store.default_->ctx.get();
    SSL_CTX_up_ref(ctx);
    store.trampoline_.reset(ctx);
    return Ok{};
  }
  auto ctx = newServerContext(params);
  if (!ctx) return ctx.error();
  store.trampoline_ = std::move(ctx.value());
  return Ok{};
}

Result<std::unique_ptr<CertStore>> CertStore::build(const std::vector<CertSpec>& entries,
                                                    const std::string& multicertPath,
                                                    const ServerParams& params,
                                                    const CertStoreOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<CertStore> store(new CertStore());
  store->chains_ = std::make_unique<ChainPool>();
  CertLoading loading(entries, options.previous ? &options.previous->pool_ : nullptr,
                      *store->chains_);
  loading.run(options.partial);
  Builder builder{*store, multicertPath, options};
  store->entries_.reserve(entries.size());  // 100,000 entries: no rehashing on the way
  store->exact_.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const CertSpec& spec = entries[i];
    if (!loading.attempted(i)) break;  // after the first failure (not partial)
    Status st = builder.addEntry(spec, loading.certificatesOf(i));
    if (st) continue;
    Error e{multicertPath, spec.line, st.error().message};
    if (!options.partial) return e;
    log::warning("%s (entry skipped: ssl.multicert_partial_reload)", e.toString().c_str());
    ++store->stats_.skipped;
  }
  if (auto st = builder.trampoline(params); !st) {
    Error e = st.error();
    return e;
  }
  loading.keep(store->pool_, store->stats_);
  CertStoreStats& stats = store->stats_;
  stats.entries = store->entries_.size();
  stats.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  loadCounters().add(stats::Counter::kSslCertFilesRead, stats.filesRead);
  log::info(
      "%s: %zu entries, %zu certificates (%zu read, %zu unchanged), %zu files read, "
      "%zu skipped, %zu KiB, %lld ms",
      multicertPath.c_str(), stats.entries, stats.certificates, stats.parsed, stats.reused,
      stats.filesRead, stats.skipped, stats.residentBytes / 1024,
      static_cast<long long>(stats.duration.count()));
  return store;
}

bool CertStore::serve(SSL* ssl, const CertEntry& entry, ServedCerts& served, int& hits, int& misses,
                      bool fresh) const {
  if (entry.ctx) {
    // SSL_set_SSL_CTX copies the context's certificates, but does nothing when the SSL is
    // on that context already (the default entry's, on the trampoline): its certificates
    // are then the context's unless something put others on the SSL since.
    const bool onIt = SSL_get_SSL_CTX(ssl) == entry.ctx.get();
    if (!onIt) SSL_set_SSL_CTX(ssl, entry.ctx.get());
    if (!onIt || fresh) {
      served = entry.served;
      return true;
    }
  }
  served = ServedCerts{};
  SSL_certs_clear(ssl);
  for (const auto& cert : entry.certs) {
    ParsedCertCache::Lookup found = ParsedCertCache::instance().get(*cert);
    (found.hit ? hits : misses) += 1;
    if (!found.cert || !useOn(ssl, *found.cert, *cert)) return false;
    served.add(found.cert->leaf.get(), cert.get());  // the SSL holds its own references
  }
  return true;
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

}  // namespace tlsgate::tls
