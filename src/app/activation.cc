#include "app/activation.h"

#include "stats/counters.h"
#include "tls/parsed_cert_cache.h"
#include "tls/ticket_key_source.h"

namespace tlsgate::app {

namespace {

using Source = config::TicketKeyPlan::Source;

void startTicketKeys(config::Snapshot& next, const config::Snapshot* previous) {
  const config::TicketKeyPlan& plan = next.ticketPlan;
  if (plan.carriedOver && previous) {
    next.ticketRotation = previous->ticketRotation;
    next.ticketRedisSync = previous->ticketRedisSync;
    return;
  }
  if (plan.source == Source::kRotation)
    next.ticketRotation = std::make_shared<tls::TicketKeyRotation>(plan.rotation, plan.lifetime,
                                                                   next.runtime.ticketKeys);
  else if (plan.source == Source::kRedis)
    next.ticketRedisSync = std::make_shared<tls::TicketKeyRedisSync>(
        *plan.redis, next.runtime.ticketKeys, stats::backgroundCounters().newBlock());
}

// The ACME client: carried over when its settings did not change, else the old one stops
// (no two instances order at once) and a new one starts from the state directory.
Status startAcme(config::Snapshot& next, const config::Snapshot* previous) {
  std::shared_ptr<acme::Manager> old = previous ? previous->acmeManager : nullptr;
  if (!next.config.acme) {
    if (old) old->stop();
    return Ok{};
  }
  auto options = config::acmeOptions(*next.config.acme, next.config.path);
  if (!options) return options.error();
  if (old && old->options() == *options) {
    next.acmeManager = old;
  } else {
    if (old) old->stop();
    next.acmeManager =
        std::make_shared<acme::Manager>(*options, stats::backgroundCounters().newBlock());
    next.acmeManager->start();
  }
  next.acmeManager->attach(next.runtime.managedCerts);
  return Ok{};
}

// ssl.cert_directory: a directory carried over by the reload forgets its unknown names (the
// operator who added files and reloaded expects them served) and looks at its cached files
// again; a new one starts its loader.
void startCertDirectory(config::Snapshot& next, const config::Snapshot* previous) {
  const std::shared_ptr<tls::CertDirectory>& directory = next.runtime.certDirectory;
  if (!directory) return;
  if (previous && previous->runtime.certDirectory == directory)
    directory->reloaded();
  else
    directory->start(stats::backgroundCounters().newBlock());
}

}  // namespace

Status activate(config::Snapshot& next, const config::Snapshot* previous) {
  if (auto st = next.runtime.routes->resolveNames(); !st) return st;
  if (next.runtime.keyLog) {
    if (auto st = next.runtime.keyLog->open(); !st)
      return Error{next.config.path, next.config.ssl.keylogLine,
                   "ssl.keylog_file: " + st.error().message};
  }
  startTicketKeys(next, previous);
  tls::ParsedCertCache::instance().setCapacity(next.config.ssl.certCacheSize);
  if (auto st = startAcme(next, previous); !st) return st;
  startCertDirectory(next, previous);
  return Ok{};
}

}  // namespace tlsgate::app
