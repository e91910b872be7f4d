// The handshake load of bench/cert_scale.sh: full TLS 1.3 handshakes, each asking for its own
// name by SNI, checked to get a certificate for that name. Built by the script:
//   g++ -O2 -std=c++20 sni_client.cc -o sni_client -lssl -lcrypto -pthread
//
//   sni_client --port P --names N [--host 127.0.0.1] [--prefix n] [--suffix .scale.test]
//       [--mode random|ondemand] [--concurrency 32] [--threads 1] [--duration 10]
//       [--warmup 2] [--timeout-ms 10000] [--seed 1] [--first 0]
//
// Names are <prefix><i><suffix> for i in 0..N-1. Each thread runs one epoll loop that keeps
// concurrency/threads connections in flight (closed loop): connect, a full TLS 1.3 handshake
// (no session offered, no ticket kept, X25519), then close at once with a reset (SO_LINGER 0:
// no TIME_WAIT, so ports last). The server's chain is not verified (that would add a signature
// check per handshake to the client's cost), but the leaf must match the name asked
// (X509_check_host: CN or SAN); a leaf for another name counts as a wrong certificate.
// Latency: from connect() to the handshake's end on the client side.
//
// Phases, each timed from a common start, a handshake counted in the phase it began in:
//   random:   warm-up (--warmup s), then "random" (--duration s): names uniform over 0..N-1.
//   ondemand: the names in one shuffled order (--seed). Warm-up on names from the end of that
//             order; then "cold" (--duration s): names from its front (from position --first),
//             each asked once (no replacement; the phase ends early when they run out); then
//             "warm" (--duration s): names drawn uniformly from those the cold phase asked.
// Prints {"mark": PHASE} as each measured phase begins and {"mark": "end"} as the last ends
// (flushed at once), then one JSON object per measured phase and one "total" line: every
// handshake begun, this process's CPU, and where the cold phase stopped in the order
// ("cold_end": a second run with --first cold_end and the same seed asks names the first one
// did not).
// Exit 2 on bad usage or setup.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Nanos = int64_t;
constexpr Nanos kSecond = 1'000'000'000;
constexpr Nanos kMilli = 1'000'000;

Nanos now() {
  timespec ts = {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kSecond + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "sni_client: %s\n", what.c_str());
  std::exit(2);
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int64_t names = 0;
  std::string prefix = "n";
  std::string suffix = ".scale.test";
  bool ondemand = false;
  int concurrency = 32;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 2;
  int timeout_ms = 10000;
  uint64_t seed = 1;
  int64_t first = 0;
};

Options parseOptions(int argc, char** argv) {
  std::map<std::string, std::string> given;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) die(std::string("missing value after ") + argv[i]);
    given[argv[i]] = argv[i + 1];
  }
  auto text = [&given](const char* flag, const std::string& fallback) {
    auto it = given.find(flag);
    if (it == given.end()) return fallback;
    std::string value = it->second;
    given.erase(it);
    return value;
  };
  auto number = [&text](const char* flag, double fallback) {
    return std::atof(text(flag, std::to_string(fallback)).c_str());
  };
  Options o;
  o.host = text("--host", o.host);
  o.port = static_cast<int>(number("--port", 0));
  o.names = static_cast<int64_t>(number("--names", 0));
  o.prefix = text("--prefix", o.prefix);
  o.suffix = text("--suffix", o.suffix);
  std::string mode = text("--mode", "random");
  o.ondemand = mode == "ondemand";
  o.concurrency = static_cast<int>(number("--concurrency", o.concurrency));
  o.threads = static_cast<int>(number("--threads", o.threads));
  o.duration_s = number("--duration", o.duration_s);
  o.warmup_s = number("--warmup", o.warmup_s);
  o.timeout_ms = static_cast<int>(number("--timeout-ms", o.timeout_ms));
  o.seed = static_cast<uint64_t>(number("--seed", static_cast<double>(o.seed)));
  o.first = static_cast<int64_t>(number("--first", 0));
  if (!given.empty()) die("unknown argument " + given.begin()->first);
  if (mode != "random" && mode != "ondemand") die("--mode is random or ondemand");
  if (o.port <= 0 || o.names <= 0) die("usage: sni_client --port P --names N [...]");
  if (o.threads < 1 || o.concurrency < o.threads) die("need concurrency >= threads >= 1");
  return o;
}

enum class Phase { kWarmup, kFirst, kSecond, kOver };

// What the threads share: the schedule, and in ondemand mode the shuffled names and how far
// the cold phase (from the front) and the warm-up (from the back) have taken them.
struct Plan {
  Options options;
  sockaddr_in address = {};
  Nanos start = 0;
  Nanos warmupEnd = 0;
  Nanos firstEnd = 0;
  Nanos secondEnd = 0;
  std::vector<int64_t> order;  // ondemand: the shuffled name indices
  int64_t warmupReserve = 0;   // ondemand: the last warmupReserve of `order` are for warm-up
  std::atomic<int64_t> coldTaken{0};
  std::atomic<int64_t> warmupTaken{0};

  Phase phaseAt(Nanos t) const {
    if (t < warmupEnd) return Phase::kWarmup;
    if (t < firstEnd) return Phase::kFirst;
    if (t < secondEnd && options.ondemand) return Phase::kSecond;
    return Phase::kOver;
  }
  Nanos end() const { return options.ondemand ? secondEnd : firstEnd; }
  int64_t coldLimit() const { return static_cast<int64_t>(order.size()) - warmupReserve; }
  int64_t coldEnd() const { return std::min(coldTaken.load(), coldLimit()); }
};

struct Tally {
  int64_t done = 0;
  int64_t wrong = 0;
  int64_t failed = 0;
  int64_t timedOut = 0;
  Nanos lastDone = 0;
  std::vector<Nanos> latencies;
  std::string firstWrong;
  std::string firstFailure;

  void merge(const Tally& other) {
    done += other.done;
    wrong += other.wrong;
    failed += other.failed;
    timedOut += other.timedOut;
    lastDone = std::max(lastDone, other.lastDone);
    latencies.insert(latencies.end(), other.latencies.begin(), other.latencies.end());
    if (firstWrong.empty()) firstWrong = other.firstWrong;
    if (firstFailure.empty()) firstFailure = other.firstFailure;
  }
};

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  Phase phase = Phase::kWarmup;
  Nanos started = 0;
  uint32_t events = 0;  // what epoll waits for now
  std::string name;
};

std::string failureReason(int sslError) {
  unsigned long code = ERR_peek_error();
  if (code == 0) return "ssl error " + std::to_string(sslError) + ", errno " + std::strerror(errno);
  char text[256] = {};
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::string describeLeaf(X509* leaf) {
  if (leaf == nullptr) return "no certificate";
  char subject[256] = {};
  X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof subject);
  return subject;
}

// One epoll loop and its connections; tallies per phase.
class Loop {
 public:
  Loop(Plan& plan, SSL_CTX* ctx, int slots, uint64_t seed)
      : plan_(plan), ctx_(ctx), slots_(slots), random_(seed) {
    epoll_ = epoll_create1(0);
    if (epoll_ < 0) die("epoll_create1 failed");
    connections_.reserve(static_cast<size_t>(slots));
  }
  ~Loop() { close(epoll_); }

  void run() {
    Nanos lastSweep = now();
    while (true) {
      Nanos t = now();
      Phase phase = plan_.phaseAt(t);
      if (phase == Phase::kOver && (inFlight_ == 0 || t > plan_.end() + drainLimit())) break;
      if (phase != Phase::kOver) fill(phase, t);
      poll();
      if (now() - lastSweep > 100 * kMilli) {
        sweepTimeouts();
        lastSweep = now();
      }
    }
    for (Connection& c : connections_)
      if (c.fd >= 0) finish(c, Outcome::kAbandoned, "");
  }

  Tally& tally(Phase p) { return tallies_[static_cast<int>(p)]; }

 private:
  enum class Outcome { kDone, kFailed, kTimedOut, kAbandoned };

  Nanos drainLimit() const { return static_cast<Nanos>(plan_.options.timeout_ms) * kMilli; }

  void fill(Phase phase, Nanos t) {
    while (inFlight_ < slots_) {
      int64_t index = pickName(phase);
      if (index < 0) return;
      start(phase, index, t);
    }
  }

  int64_t pickName(Phase phase) {
    const Options& o = plan_.options;
    if (!o.ondemand) return std::uniform_int_distribution<int64_t>(0, o.names - 1)(random_);
    if (phase == Phase::kWarmup) {
      int64_t k = plan_.warmupTaken.fetch_add(1) % plan_.warmupReserve;
      return plan_.order[plan_.coldLimit() + k];
    }
    if (phase == Phase::kFirst) {
      int64_t k = plan_.coldTaken.fetch_add(1);
      return k < plan_.coldLimit() ? plan_.order[k] : -1;
    }
    int64_t first = o.first, end = plan_.coldEnd();
    if (end <= first) return -1;
    return plan_.order[std::uniform_int_distribution<int64_t>(first, end - 1)(random_)];
  }

  void start(Phase phase, int64_t index, Nanos t) {
    Connection* c = freeSlot();
    c->phase = phase;
    c->started = t;
    c->name = plan_.options.prefix + std::to_string(index) + plan_.options.suffix;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die(std::string("socket: ") + std::strerror(errno));
    linger reset = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++inFlight_;
    auto* address = reinterpret_cast<const sockaddr*>(&plan_.address);
    if (connect(c->fd, address, sizeof plan_.address) != 0 && errno != EINPROGRESS) {
      finish(*c, Outcome::kFailed, std::string("connect: ") + std::strerror(errno));
      return;
    }
    c->ssl = SSL_new(ctx_);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, c->name.c_str());
    c->events = EPOLLOUT;
    epoll_event ev = {};
    ev.events = c->events;
    ev.data.u64 = static_cast<uint64_t>(c - connections_.data());
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev);
  }

  Connection* freeSlot() {
    for (Connection& c : connections_)
      if (c.fd < 0) return &c;
    connections_.emplace_back();  // only while filling up to `slots_` (reserved)
    return &connections_.back();
  }

  void poll() {
    epoll_event events[64];
    int n = epoll_wait(epoll_, events, 64, 10);
    for (int i = 0; i < n; ++i) advance(connections_[events[i].data.u64]);
  }

  void advance(Connection& c) {
    if (c.fd < 0) return;
    ERR_clear_error();
    int r = SSL_connect(c.ssl);
    if (r == 1) return handshakeDone(c);
    int error = SSL_get_error(c.ssl, r);
    uint32_t want = error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      return finish(c, Outcome::kFailed, failureReason(error));
    }
    if (want != c.events) {
      c.events = want;
      epoll_event ev = {};
      ev.events = want;
      ev.data.u64 = static_cast<uint64_t>(&c - connections_.data());
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    }
  }

  void handshakeDone(Connection& c) {
    X509* leaf = SSL_get0_peer_certificate(c.ssl);
    if (leaf != nullptr && X509_check_host(leaf, c.name.data(), c.name.size(), 0, nullptr) == 1)
      return finish(c, Outcome::kDone, "");
    Tally& t = tally(c.phase);
    ++t.wrong;
    if (t.firstWrong.empty()) t.firstWrong = "asked " + c.name + ", got " + describeLeaf(leaf);
    finish(c, Outcome::kDone, "");
  }

  void finish(Connection& c, Outcome outcome, const std::string& why) {
    Nanos t = now();
    Tally& tally = this->tally(c.phase);
    if (outcome == Outcome::kDone) {
      ++tally.done;
      tally.lastDone = t;
      tally.latencies.push_back(t - c.started);
    } else if (outcome == Outcome::kFailed) {
      ++tally.failed;
      if (tally.firstFailure.empty()) tally.firstFailure = c.name + ": " + why;
    } else if (outcome == Outcome::kTimedOut) {
      ++tally.timedOut;
    }
    SSL_free(c.ssl);
    c.ssl = nullptr;
    close(c.fd);  // with SO_LINGER 0: a reset, and also leaves the epoll set
    c.fd = -1;
    --inFlight_;
  }

  void sweepTimeouts() {
    Nanos t = now();
    for (Connection& c : connections_)
      if (c.fd >= 0 && t - c.started > drainLimit()) finish(c, Outcome::kTimedOut, "");
  }

  Plan& plan_;
  SSL_CTX* ctx_;
  int slots_;
  std::mt19937_64 random_;
  int epoll_ = -1;
  int inFlight_ = 0;
  std::vector<Connection> connections_;
  Tally tallies_[4];
};

SSL_CTX* clientContext() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) die("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // the leaf's name is checked instead
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set1_groups_list(ctx, "X25519") != 1) die("X25519 unavailable");
  return ctx;
}

void setUpPlan(Plan& plan) {
  const Options& o = plan.options;
  plan.address.sin_family = AF_INET;
  plan.address.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &plan.address.sin_addr) != 1) die("bad --host");
  plan.start = now() + 50 * kMilli;
  plan.warmupEnd = plan.start + static_cast<Nanos>(o.warmup_s * kSecond);
  plan.firstEnd = plan.warmupEnd + static_cast<Nanos>(o.duration_s * kSecond);
  plan.secondEnd = plan.firstEnd + static_cast<Nanos>(o.duration_s * kSecond);
  if (!o.ondemand) return;
  plan.order.resize(static_cast<size_t>(o.names));
  std::iota(plan.order.begin(), plan.order.end(), 0);
  std::shuffle(plan.order.begin(), plan.order.end(), std::mt19937_64(o.seed));
  plan.warmupReserve = std::max<int64_t>(1, std::min<int64_t>(o.names / 5, 50'000));
  plan.coldTaken = o.first;
}

Nanos percentile(std::vector<Nanos>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// JSON strings here are names and OpenSSL messages; quotes and backslashes are all that
// could need escaping.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

void report(const char* phase, Tally& t, Nanos begin, Nanos end) {
  // A cold phase that ran out of names ends at its last handshake, not at the clock.
  if (t.lastDone > begin && t.lastDone < end) end = t.lastDone;
  double seconds = static_cast<double>(end - begin) / kSecond;
  double p50 = static_cast<double>(percentile(t.latencies, 0.50)) / kMilli;
  double p99 = static_cast<double>(percentile(t.latencies, 0.99)) / kMilli;
  double max =
      t.latencies.empty()
          ? 0
          : static_cast<double>(*std::max_element(t.latencies.begin(), t.latencies.end())) / kMilli;
  std::printf(
      "{\"phase\": \"%s\", \"handshakes\": %lld, \"seconds\": %.3f, \"per_second\": %.1f, "
      "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"wrong_certificate\": %lld, "
      "\"failed\": %lld, \"timed_out\": %lld, \"first_wrong\": %s, \"first_failure\": %s}\n",
      phase, static_cast<long long>(t.done), seconds, seconds > 0 ? t.done / seconds : 0.0, p50,
      p99, max, static_cast<long long>(t.wrong), static_cast<long long>(t.failed),
      static_cast<long long>(t.timedOut), quoted(t.firstWrong).c_str(),
      quoted(t.firstFailure).c_str());
}

double cpuSeconds() {
  rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](timeval tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

// A line as each measured phase begins and as the last ends, so that whoever reads stdout
// can take the server's CPU time per phase.
void markPhases(const Plan& plan) {
  std::vector<std::pair<Nanos, const char*>> marks = {{plan.warmupEnd, "random"},
                                                      {plan.firstEnd, "end"}};
  if (plan.options.ondemand)
    marks = {{plan.warmupEnd, "cold"}, {plan.firstEnd, "warm"}, {plan.secondEnd, "end"}};
  for (auto [at, phase] : marks) {
    while (now() < at) usleep(1000);
    std::printf("{\"mark\": \"%s\"}\n", phase);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Plan plan;
  plan.options = parseOptions(argc, argv);
  const Options& o = plan.options;
  SSL_CTX* ctx = clientContext();
  setUpPlan(plan);
  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < o.threads; ++i) {
    int slots = o.concurrency / o.threads + (i < o.concurrency % o.threads ? 1 : 0);
    uint64_t seed = o.seed * 1000 + static_cast<uint64_t>(i);
    loops.push_back(std::make_unique<Loop>(plan, ctx, slots, seed));
  }
  while (now() < plan.start) usleep(1000);
  std::vector<std::thread> threads;
  for (auto& loop : loops) threads.emplace_back([&loop] { loop->run(); });
  markPhases(plan);
  for (std::thread& t : threads) t.join();

  Tally merged[4];
  for (auto& loop : loops)
    for (int p = 0; p < 4; ++p) merged[p].merge(loop->tally(static_cast<Phase>(p)));
  int64_t total = 0;
  for (Tally& t : merged) total += t.done;
  if (o.ondemand) {
    report("cold", merged[1], plan.warmupEnd, plan.firstEnd);
    report("warm", merged[2], plan.firstEnd, plan.secondEnd);
  } else {
    report("random", merged[1], plan.warmupEnd, plan.firstEnd);
  }
  std::printf(
      "{\"phase\": \"total\", \"handshakes\": %lld, \"client_cpu_s\": %.3f, "
      "\"cold_end\": %lld}\n",
      static_cast<long long>(total), cpuSeconds(),
      static_cast<long long>(o.ondemand ? plan.coldEnd() : 0));
  SSL_CTX_free(ctx);
  return 0;
}
