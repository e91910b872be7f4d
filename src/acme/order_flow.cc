#include "acme/order_flow.h"

#include <algorithm>
#include <thread>

namespace tlsgate::acme {

namespace {

using Clock = std::chrono::steady_clock;

// Withdraws a published challenge when the authorization's work ends, however it ends.
class PublishedChallenge {
 public:
  PublishedChallenge(ChallengeSink& sink, const Authorization& authorization,
                     const Challenge& challenge)
      : sink_(sink), authorization_(authorization), challenge_(challenge) {}
  ~PublishedChallenge() { sink_.withdraw(authorization_, challenge_); }
  PublishedChallenge(const PublishedChallenge&) = delete;
  PublishedChallenge& operator=(const PublishedChallenge&) = delete;

 private:
  ChallengeSink& sink_;
  const Authorization authorization_;
  const Challenge challenge_;
};

// One issue() call: the client, the sink, the options and the deadline.
class IssueRun {
 public:
  IssueRun(Client& client, ChallengeSink& sink, const IssueOptions& options)
      : client_(client),
        sink_(sink),
        options_(options),
        deadline_(Clock::now() + options.deadline) {}

  Result<Issued> run();

 private:
  Status advance(Order& order, OrderStep step);
  Status authorize(const std::string& url);
  Status validate(Authorization authorization, const Challenge& challenge);
  Status wait(std::chrono::seconds retryAfter, const std::string& what);
  Status stillGoing(const std::string& what) const;
  Error failed(const std::string& message) const;

  Client& client_;
  ChallengeSink& sink_;
  const IssueOptions& options_;
  const Clock::time_point deadline_;
  std::string keyPem_;
  std::string chainPem_;
};

const Challenge* preferred(const Authorization& authorization,
                           const std::vector<std::string>& types) {
  for (const std::string& type : types)
    for (const Challenge& challenge : authorization.challenges)
      if (challenge.type == type) return &challenge;
  return nullptr;
}

std::string offered(const Authorization& authorization) {
  std::string out;
  for (const Challenge& challenge : authorization.challenges)
    out += (out.empty() ? "" : ", ") + challenge.type;
  return out.empty() ? "none" : out;
}

}  // namespace

const char* toString(OrderStep step) {
  switch (step) {
    case OrderStep::kAuthorize:
      return "authorize";
    case OrderStep::kWaitForAuthorizations:
      return "wait for authorizations";
    case OrderStep::kFinalize:
      return "finalize";
    case OrderStep::kWaitForIssuance:
      return "wait for issuance";
    case OrderStep::kDownload:
      return "download";
    case OrderStep::kDone:
      return "done";
    case OrderStep::kFailed:
      return "failed";
  }
  return "?";
}

OrderStep nextStep(const Order& order, bool authorized) {
  if (order.status == "pending")
    return authorized ? OrderStep::kWaitForAuthorizations : OrderStep::kAuthorize;
  if (order.status == "ready") return OrderStep::kFinalize;
  if (order.status == "processing") return OrderStep::kWaitForIssuance;
  if (order.status == "valid" && !order.certificateUrl.empty()) return OrderStep::kDownload;
  return OrderStep::kFailed;  // invalid, valid without a certificate, or unknown
}

Error IssueRun::failed(const std::string& message) const {
  return Error{"", 0, "ACME order for " + options_.names.front() + ": " + message};
}

Status IssueRun::stillGoing(const std::string& what) const {
  if (options_.stopping && options_.stopping()) return failed("stopped while " + what);
  if (Clock::now() >= deadline_)
    return failed("gave up after " + std::to_string(options_.deadline.count()) + " s while " +
                  what);
  return Ok{};
}

// Sleeps until the next poll: pollInterval, or longer when the server asked for it, in
// slices so that stopping() ends it promptly.
Status IssueRun::wait(std::chrono::seconds retryAfter, const std::string& what) {
  auto until = Clock::now() + std::max<Clock::duration>(options_.pollInterval, retryAfter);
  if (until > deadline_) until = deadline_;
  for (;;) {
    Status going = stillGoing(what);
    if (!going) return going;
    auto now = Clock::now();
    if (now >= until) return Ok{};
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - now, std::chrono::milliseconds(100)));
  }
}

Status IssueRun::validate(Authorization authorization, const Challenge& challenge) {
  std::string what = "validating " + challenge.type + " for " + authorization.identifier;
  Status accepted = client_.acceptChallenge(challenge);
  if (!accepted) return failed(what + ": " + accepted.error().message);
  for (;;) {
    Status waited = wait(authorization.retryAfter, what);
    if (!waited) return waited;
    Result<Authorization> now = client_.authorization(authorization.url);
    if (!now) return failed(what + ": " + now.error().message);
    authorization = std::move(*now);
    if (authorization.status == "valid") return Ok{};
    if (authorization.status == "pending") continue;
    const Challenge* answered = preferred(authorization, {challenge.type});
    std::string why = answered && !answered->error.empty() ? answered->error : "no reason given";
    return failed(what + ": authorization " + authorization.status + ": " + why);
  }
}

Status IssueRun::authorize(const std::string& url) {
  Result<Authorization> authorization = client_.authorization(url);
  if (!authorization) return failed(authorization.error().message);
  if (authorization->status == "valid") return Ok{};  // validated for an earlier order
  if (authorization->status != "pending")
    return failed("authorization for " + authorization->identifier + " is " +
                  authorization->status);
  const Challenge* chosen = preferred(*authorization, options_.challengeTypes);
  if (!chosen)
    return failed("the authorization for " + authorization->identifier +
                  " offers no usable challenge (offered: " + offered(*authorization) + ")");
  Challenge challenge = *chosen;
  Status published =
      sink_.publish(*authorization, challenge, keyAuthorization(challenge.token, client_.key()));
  PublishedChallenge guard(sink_, *authorization, challenge);
  if (!published)
    return failed("cannot publish " + challenge.type + " for " + authorization->identifier + ": " +
                  published.error().message);
  return validate(*authorization, challenge);
}

Status IssueRun::advance(Order& order, OrderStep step) {
  std::string url = order.url;
  Result<Order> next = order;
  switch (step) {
    case OrderStep::kAuthorize:
      for (const std::string& authorization : order.authorizations) {
        Status done = authorize(authorization);
        if (!done) return done;
      }
      next = client_.order(url);
      break;
    case OrderStep::kWaitForAuthorizations:
    case OrderStep::kWaitForIssuance: {
      Status waited = wait(order.retryAfter, toString(step));
      if (!waited) return waited;
      next = client_.order(url);
      break;
    }
    case OrderStep::kFinalize: {
      Result<std::string> key = newPrivateKeyPem(options_.keyType);
      Result<std::string> csr = key ? makeCsrDer(options_.names, *key) : key.error();
      if (!csr) return failed(csr.error().message);
      keyPem_ = std::move(*key);
      next = client_.finalize(order, *csr);
      break;
    }
    case OrderStep::kDownload: {
      Result<std::string> chain = client_.certificate(order.certificateUrl);
      if (!chain) return failed(chain.error().message);
      chainPem_ = std::move(*chain);
      return Ok{};
    }
    case OrderStep::kDone:
    case OrderStep::kFailed:
      return failed("order " + order.status + (order.error.empty() ? "" : ": " + order.error));
  }
  if (!next) return failed(next.error().message);
  order = std::move(*next);
  return Ok{};
}

Result<Issued> IssueRun::run() {
  if (options_.names.empty()) return Error{"", 0, "ACME order: no names"};
  Result<Order> order = client_.newOrder(options_.names, options_.replacesCertId);
  if (!order) return failed(order.error().message);
  bool authorized = false;
  while (chainPem_.empty()) {
    OrderStep step = nextStep(*order, authorized);
    if (step != OrderStep::kFailed) {
      Status going = stillGoing(toString(step));
      if (!going) return going.error();
    }
    Status done = advance(*order, step);
    if (!done) return done.error();
    authorized = authorized || step == OrderStep::kAuthorize;
  }
  return Issued{std::move(chainPem_), std::move(keyPem_)};
}

Result<Issued> issue(Client& client, ChallengeSink& sink, const IssueOptions& options) {
  return IssueRun(client, sink, options).run();
}

}  // namespace tlsgate::acme
