// Manager: the ACME client's thread (README "Automatic certificates (ACME)"). It never runs
// on a worker: the workers only read the ManagedCertStore it publishes to.
//
// At start it serves what the state directory holds (certificates/<id>.pem, <id>.key), so a
// restart orders nothing; then, for each configured certificate, it orders one when none is
// held, when the names changed, or when renewal is due: at `renew_remaining` of the lifetime
// left, minus up to 5 % of jitter, or earlier when the CA's renewal information (ARI, RFC
// 9773) suggests it. A failure keeps the held certificate serving, counts acme_failures, and
// retries with a back-off of 10 s doubling to 1 h (never more than a tenth of what is left,
// longer when the server says Retry-After).
//
// Fleet mode (acme.redis): the account key, a lease per certificate, the pending challenges
// and the issued certificates live in Redis (acme/shared_state.h). Only the lease holder
// orders; it puts each challenge in Redis and waits two poll intervals before asking the CA
// to validate, so every instance answers it; every instance polls Redis for challenges (on a
// second thread, every poll interval, even while it orders) and for certificates newer than
// its own. Redis down: the held certificates keep serving.
//
// On demand (acme.on_demand, manager_on_demand.cc): workers queue names no certificate has
// (OnDemandQueue); the thread serves what the state directory holds for the name, else asks
// the `ask` policy and orders within the global rate, publishes, and answers the waiting
// handshakes. An on-demand certificate is then renewed like a configured one.
#pragma once

#include <condition_variable>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "acme/on_demand.h"
#include "acme/options.h"
#include "acme/order_flow.h"
#include "stats/counters.h"
#include "tls/managed_certs.h"

namespace tlsgate::acme {

class Client;
class SharedState;
struct SharedChallenge;

class Manager {
 public:
  Manager(ManagerOptions options, stats::CounterBlock& counters);
  ~Manager();  // stops the thread
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Serves everything held (certificates, pending challenges) from `store`, and what is
  // obtained later. Called for each new snapshot before it serves.
  void attach(std::shared_ptr<tls::ManagedCertStore> store);
  // Reads the state directory (and, in fleet mode, Redis), then starts the thread.
  void start();
  void stop();

  // http-01: the key authorization of a pending challenge's token.
  std::optional<std::string> keyAuthorization(std::string_view token) const;
  const ManagerOptions& options() const { return options_; }

 private:
  struct Tracked {
    ManagedName spec;
    std::optional<tls::ManagedCert> held;
    std::time_t notBefore = 0;
    std::time_t nextAttempt = 0;
    int failures = 0;
  };
  class Sink;
  friend class Sink;

  void run();
  void loadStored(Tracked& t);
  void attempt(Tracked& t);
  Result<Issued> issueThroughSink(const IssueOptions& options);
  bool ensureClient();
  void adopt(Tracked& t, const std::string& chainPem, const std::string& keyPem);
  void schedule(Tracked& t);
  void failed(Tracked& t, const std::string& why, bool ordered);
  void syncFleet();  // the run thread: certificates other instances obtained
  bool adoptFromFleet(Tracked& t);
  void pollChallenges();  // its own thread: see manager_fleet.cc
  void takeChallenges(const std::vector<SharedChallenge>& pending);
  void publishChallenge(const SharedChallenge& c);
  void withdrawChallenge(const SharedChallenge& c);
  bool sleepUntil(std::time_t when);  // false: stopping
  enum class OnDemandResult : uint8_t { kServed, kRefused, kBusy };
  void serveOnDemand();
  OnDemandResult obtainOnDemand(const std::string& name);
  Tracked* trackedByName(const std::string& name);

  const ManagerOptions options_;
  stats::CounterBlock& counters_;
  std::vector<Tracked> tracked_;  // the thread's
  std::unique_ptr<Client> client_;
  std::unique_ptr<SharedState> fleet_;
  std::set<std::string> fleetChallenges_;    // the challenge thread's: slots taken from Redis
  std::shared_ptr<OnDemandQueue> onDemand_;  // acme.on_demand; shared with the stores

  mutable std::mutex mutex_;  // guards what attach() and the http-01 listener read
  std::shared_ptr<tls::ManagedCertStore> store_;
  std::map<std::string, tls::ManagedCert> published_;                         // by id
  std::map<std::string, std::pair<std::string, std::string>> tlsChallenges_;  // name -> cert, key
  std::map<std::string, std::string, std::less<>> tokens_;  // http-01: token -> key authorization
  std::condition_variable wake_;
  bool stopping_ = false;
  bool onDemandQueued_ = false;  // a worker queued a name: the thread wakes for it
  std::thread thread_;
  std::thread challengeThread_;  // fleet mode only
};

}  // namespace tlsgate::acme
