#include "app/activation.h"

#include "stats/counters.h"
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

}  // namespace

Status activate(config::Snapshot& next, const config::Snapshot* previous) {
  if (auto st = next.runtime.routes->resolveNames(); !st) return st;
  if (next.runtime.keyLog) {
    if (auto st = next.runtime.keyLog->open(); !st)
      return Error{next.config.path, next.config.ssl.keylogLine,
                   "ssl.keylog_file: " + st.error().message};
  }
  startTicketKeys(next, previous);
  return Ok{};
}

}  // namespace tlsgate::app
