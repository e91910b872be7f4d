// Gateway: what the admin endpoint reads of the certificate store in use (admin/
// gateway_control.h). Nothing here visits more entries than it was asked for, except the
// expiry index, made once per snapshot.
#include <algorithm>
#include <unordered_set>

#include "app/gateway.h"
#include "tls/parsed_cert_cache.h"

namespace tlsgate::app {

namespace {

void appendRows(std::vector<admin::CertificateRow>& rows, const tls::CertEntry& entry,
                const tls::CertStore& store) {
  for (const auto& cert : entry.certs)
    rows.push_back({cert->file, entry.line, cert->subject, cert->names, cert->keyType,
                    cert->notAfter, cert->sha256, &entry == store.defaultEntry()});
}

}  // namespace

admin::CertificatePage Gateway::certificatePage(size_t offset, size_t limit) const {
  auto current = snapshot();
  const tls::CertStore& store = *current->runtime.certs;
  admin::CertificatePage page;
  page.multicertPath = current->config.ssl.multicertPath;
  page.total = store.entries().size();
  const size_t end = offset < page.total ? offset + std::min(limit, page.total - offset) : 0;
  for (size_t i = offset; i < end; ++i) appendRows(page.rows, *store.entries()[i], store);
  return page;
}

admin::NamedCertificates Gateway::certificatesNamed(std::string_view name) const {
  auto current = snapshot();
  const tls::CertStore& store = *current->runtime.certs;
  admin::NamedCertificates found;
  found.multicertPath = current->config.ssl.multicertPath;
  found.total = store.entries().size();
  // S11's name steps, exact first; `name` is lowercase (as the store's keys).
  const tls::CertEntry* entry = store.findExact(name);
  found.match = entry ? admin::NameMatch::kExact : admin::NameMatch::kNone;
  if (!entry && (entry = store.findWildcard(name))) found.match = admin::NameMatch::kWildcard;
  if (entry) appendRows(found.rows, *entry, store);
  return found;
}

admin::CertificateStoreStatus Gateway::certificateStore() const {
  auto current = snapshot();
  const tls::CertStoreStats& stats = current->runtime.certs->stats();
  const tls::ParsedCertCache& cache = tls::ParsedCertCache::instance();
  admin::CertificateStoreStatus status;
  status.entries = stats.entries;
  status.certificates = stats.certificates;
  status.skipped = stats.skipped;
  status.residentBytes = stats.residentBytes;
  status.loadDuration = stats.duration;
  status.cacheEntries = cache.size();
  status.cacheCapacity = cache.capacity();
  return status;
}

std::shared_ptr<const admin::ExpiryIndex> Gateway::certificateExpiry() const {
  auto current = snapshot();
  std::lock_guard lock(expiryMutex_);
  if (expiry_ && expiryOf_.lock() == current) return expiry_;
  // Each certificate once, however many entries share it.
  std::unordered_set<const tls::CertMaterial*> seen;
  std::vector<std::time_t> notAfters;
  for (const auto& entry : current->runtime.certs->entries())
    for (const auto& cert : entry->certs)
      if (seen.insert(cert.get()).second) notAfters.push_back(cert->notAfter);
  expiry_ = std::make_shared<const admin::ExpiryIndex>(std::move(notAfters));
  expiryOf_ = current;
  return expiry_;
}

std::vector<admin::ManagedCertificateRow> Gateway::managedCertificates() const {
  auto current = snapshot();
  std::vector<admin::ManagedCertificateRow> managed;
  if (current->runtime.managedCerts)
    for (const tls::ManagedCertStatus& m : current->runtime.managedCerts->list())
      managed.push_back({m.id, m.source, m.names, m.notAfter, m.nextRenewal});
  return managed;
}

}  // namespace tlsgate::app
