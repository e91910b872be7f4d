#include "acme/on_demand.h"

#include "acme/http_session.h"

namespace tlsgate::acme {

OnDemandQueue::OnDemandQueue(OnDemandOptions options, std::function<void()> wake)
    : options_(std::move(options)), wake_(std::move(wake)) {}

bool OnDemandQueue::refused(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = refusedUntil_.find(name);
  return it != refusedUntil_.end() && it->second > std::time(nullptr);
}

void OnDemandQueue::request(const std::string& name, std::function<void()> done) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    if (!waiting_.contains(name) && queue_.size() >= kMaxQueued) {
      wake = std::move(done);  // answered at once: the fallback, not a wait
    } else {
      auto [it, first] = waiting_.try_emplace(name);
      it->second.push_back(std::move(done));
      if (!first) return;  // the pending order answers this handshake too
      queue_.push_back(name);
      wake = wake_;
    }
  }
  if (wake) wake();
}

std::optional<std::string> OnDemandQueue::next() {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) return std::nullopt;
  std::string name = std::move(queue_.front());
  queue_.pop_front();
  return name;
}

void OnDemandQueue::finish(const std::string& name, bool refused) {
  std::vector<std::function<void()>> answers;
  {
    std::lock_guard lock(mutex_);
    const std::time_t now = std::time(nullptr);
    // Expired entries are dropped only when the bound is reached (refused() checks the time).
    if (refusedUntil_.size() >= kMaxRefused)
      std::erase_if(refusedUntil_, [now](const auto& r) { return r.second <= now; });
    if (refused && refusedUntil_.size() < kMaxRefused)
      refusedUntil_[name] = now + options_.backoff.count();
    if (auto it = waiting_.find(name); it != waiting_.end()) {
      answers = std::move(it->second);
      waiting_.erase(it);
    }
  }
  for (auto& answer : answers) answer();
}

bool OnDemandQueue::takeOrderSlot(std::time_t now) {
  while (!recentOrders_.empty() && recentOrders_.front() <= now - 60) recentOrders_.pop_front();
  if (recentOrders_.size() >= static_cast<size_t>(options_.ratePerMinute)) return false;
  recentOrders_.push_back(now);
  return true;
}

void OnDemandQueue::detach() {
  std::lock_guard lock(mutex_);
  wake_ = nullptr;
}

Result<bool> askAllows(const std::string& url, const std::string& name,
                       std::chrono::seconds timeout) {
  // The name passed acmeNameProblem (letters, digits, '-' and '.'): nothing to escape.
  const std::string query =
      url + (url.find('?') == std::string::npos ? "?" : "&") + "domain=" + name;
  HttpSession http("", timeout);
  auto response = http.send("GET", query, "", "*/*");
  if (!response) return response.error();
  return response->status == 200;
}

}  // namespace tlsgate::acme
