// OnDemandGate: how a worker asks the ACME client for a certificate it does not have yet
// (acme.on_demand, README "On-demand certificates"). The ACME manager implements it
// (acme/on_demand.h); the route (proxy/route_decision.cc) reads refused() and the policy, and
// the connection calls request() while its handshake waits. tls/ knows nothing of ACME:
// this is the whole of what the workers see of it.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace tlsgate::tls {

// Why the ACME client cannot obtain a certificate for `name` ("" = it can): letters, digits,
// hyphens and dots, with a dot; no wildcard (that needs dns-01, which tlsgate cannot answer).
std::string acmeNameProblem(std::string_view name);

class OnDemandGate {
 public:
  virtual ~OnDemandGate() = default;

  // A name refused (or whose order failed) less than `backoff` ago: no new request, the
  // fallback at once.
  virtual bool refused(std::string_view name) const = 0;
  // Asks for a certificate for `name`. `done` is called once, from any thread, when it is
  // served (ManagedCertStore::find finds it) or refused; never if the manager stopped.
  // Requests for a name already pending wait on the same order.
  virtual void request(const std::string& name, std::function<void()> done) = 0;

  // How long a handshake waits for its certificate.
  virtual std::chrono::seconds timeout() const = 0;
  // Refused or timed out: an alert (unrecognized_name), else the default certificate.
  virtual bool alertOnRefusal() const = 0;
};

}  // namespace tlsgate::tls
