#include "proxy/admission.h"

#include <string_view>

namespace tlsgate::proxy {

using stats::Counter;

namespace {

AdmissionVerdict refusal(Counter counter, std::string reason) {
  return AdmissionVerdict{true, false, counter, std::move(reason)};
}

std::string byRule(const char* what, const AdmissionRule& rule) {
  return std::string(what) + " (admission rule at tlsgate.yaml:" + std::to_string(rule.line) + ")";
}

std::string_view keyBytes(const SourceTable::Key& key) {
  return {reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size()};
}

}  // namespace

AdmissionLease::~AdmissionLease() {
  handshakeOver();
  if (inConnections_) SourceTable::instance().leaveConnection(key_, connectionTracked_);
  if (listenerOpen_) listenerOpen_->fetch_sub(1, std::memory_order_relaxed);
}

void AdmissionLease::handshakeOver() {
  if (!inHandshakes_) return;
  inHandshakes_ = false;
  SourceTable::instance().leaveHandshake(key_, handshakeTracked_);
}

AdmissionVerdict AdmissionLease::admitByRule(const SourceContext& ctx,
                                             const AdmissionMatch& match) {
  undecided_ = match.undecided;
  if (!match.rule) return {};
  const AdmissionRule& rule = *match.rule;
  switch (rule.action) {
    case AdmissionRule::Action::kAllow:
      allowed_ = true;
      return {};
    case AdmissionRule::Action::kDeny:  // deny_with: alert waits for the ClientHello
      return refusal(Counter::kAdmissionDenied, byRule("denied", rule));
    case AdmissionRule::Action::kLimit:
      break;
  }
  rule_ = match.index;
  if (rule.connections.limited() && !ctx.buckets.take(match.index, RuleBuckets::Kind::kConnections,
                                                      keyBytes(key_), rule.connections, ctx.now))
    return refusal(Counter::kAdmissionConnectionLimited, byRule("connection rate", rule));
  return {};
}

// While the worker sheds, a source whose cost would have its full handshakes refused and that
// has not resumed lately is refused here: its next ClientHello is a full handshake all but
// surely, and refusing it at the ClientHello would cost an SSL object and OpenSSL's parse,
// which a flood makes the bulk of the load (docs/decisions.md). A source that resumes goes on
// to the ClientHello, where its resumptions pass. The refusal counts as asked-for cost.
AdmissionVerdict AdmissionLease::shedAtAccept(const SourceContext& ctx) {
  constexpr double kResumingSource = 0.5;
  SourceTable& table = SourceTable::instance();
  const SourceTable::Standing standing = table.standing(key_, ctx.now);
  if (standing.resumptions >= kResumingSource) return {};
  // What it asked already (not this one): a visitor back after one full handshake passes.
  if (!ctx.shedder.refuses(standing.cost)) return {};  // notes the cost as the highest seen
  table.chargeFullHandshake(key_, ctx.now);
  return refusal(Counter::kShedConnections, "shed at accept: a costly source that does not resume");
}

AdmissionVerdict AdmissionLease::admitSource(const SourceContext& ctx) {
  const AdmissionSettings& s = ctx.settings;
  SourceTable& table = SourceTable::instance();
  key_ = SourceTable::keyOf(ctx.source, s.sourcePrefixV4, s.sourcePrefixV6);
  AdmissionVerdict verdict =
      admitByRule(ctx, matchRule(s, ctx.source, ctx.listener, nullptr, nullptr));
  if (verdict.refused) return verdict;
  if (!allowed_ && ctx.shedder.shedding()) {
    verdict = shedAtAccept(ctx);
    if (verdict.refused) return verdict;
  }
  // The bounds protect the fd table: they hold for allowed sources too (not per source).
  if (ctx.listenerOpen) {
    if (ctx.listenerOpen->fetch_add(1, std::memory_order_relaxed) >= ctx.listenerMax &&
        ctx.listenerMax != 0) {
      ctx.listenerOpen->fetch_sub(1, std::memory_order_relaxed);
      return refusal(Counter::kAdmissionMaxConnections, "listener max_connections reached");
    }
    listenerOpen_ = ctx.listenerOpen;
  }
  if (s.maxConnections != 0 &&
      table.connections.load(std::memory_order_relaxed) >= s.maxConnections)
    return refusal(Counter::kAdmissionMaxConnections, "admission.max_connections reached");
  if (s.maxHandshakes != 0 && table.handshakes.load(std::memory_order_relaxed) >= s.maxHandshakes)
    return refusal(Counter::kAdmissionMaxHandshakes, "admission.max_handshakes reached");
  const uint32_t maxConnections = allowed_ ? 0 : s.perSourceConnections;
  if (!table.enterConnection(key_, maxConnections))
    return refusal(Counter::kAdmissionSourceConnections, "per_source_connections reached");
  inConnections_ = true;
  connectionTracked_ = maxConnections != 0;
  const uint32_t maxHandshakes = allowed_ ? 0 : s.perSourceHandshakes;
  if (!table.enterHandshake(key_, maxHandshakes))
    return refusal(Counter::kAdmissionSourceHandshakes, "per_source_handshakes reached");
  inHandshakes_ = true;
  handshakeTracked_ = maxHandshakes != 0;
  return {};
}

AdmissionVerdict AdmissionLease::limitHandshake(const HelloContext& ctx,
                                                const AdmissionRule& rule) {
  std::string_view key = rule.per == AdmissionRule::Per::kSni   ? ctx.hello.sni
                         : rule.per == AdmissionRule::Per::kJa4 ? ctx.hello.ja4
                                                                : keyBytes(key_);
  if (undecided_ && rule.connections.limited() &&
      !ctx.buckets.take(*rule_, RuleBuckets::Kind::kConnections, key, rule.connections, ctx.now))
    return refusal(Counter::kAdmissionConnectionLimited, byRule("connection rate", rule));
  if (!ctx.resumption && rule.handshakes.limited() &&
      !ctx.buckets.take(*rule_, RuleBuckets::Kind::kHandshakes, key, rule.handshakes, ctx.now))
    return refusal(Counter::kAdmissionHandshakeLimited, byRule("full handshake rate", rule));
  return {};
}

AdmissionVerdict AdmissionLease::admitClientHello(const HelloContext& ctx) {
  const AdmissionRule* rule = rule_ ? &ctx.settings.rules[*rule_] : nullptr;
  if (undecided_) {
    AdmissionMatch m =
        matchRule(ctx.settings, ctx.source, ctx.listener, &ctx.hello.sni, &ctx.hello.ja4);
    if (m.rule && m.rule->action == AdmissionRule::Action::kAllow) allowed_ = true;
    if (m.rule && m.rule->action == AdmissionRule::Action::kDeny) {
      // With an alert the handshake counts it (tls::counterFor: admission_denied).
      AdmissionVerdict v = refusal(Counter::kAdmissionDenied, byRule("denied", *m.rule));
      v.alert = m.rule->denyWithAlert;
      if (v.alert) v.counter.reset();
      return v;
    }
    if (m.rule && m.rule->action == AdmissionRule::Action::kLimit) {
      rule_ = m.index;
      rule = m.rule;
    }
  }
  if (allowed_) return {};
  if (rule) {
    AdmissionVerdict v = limitHandshake(ctx, *rule);
    if (v.refused) return v;
  }
  undecided_ = false;
  // Cost and resumptions are shedding's; without it they are not kept (a lock and a
  // hash-map entry per handshake).
  if (!ctx.settings.shed.enabled) return {};
  if (ctx.resumption) {
    SourceTable::instance().noteResumption(key_, ctx.now);
    AdmissionVerdict v;
    if (ctx.shedder.shedding()) {
      v.counter = Counter::kResumptionsAdmittedWhileShedding;
    }
    return v;
  }
  const double cost = SourceTable::instance().chargeFullHandshake(key_, ctx.now);
  if (ctx.shedder.refuses(cost))
    return refusal(Counter::kShedFullHandshakes, "shed: a full handshake from a costly source");
  return {};
}

}  // namespace tlsgate::proxy
