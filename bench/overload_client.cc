// The load generator of bench/overload.sh: TLS clients on one epoll loop, bound to chosen
// source addresses, started at a fixed rate whatever the server does (open loop), or kept at
// a fixed number in flight (closed loop, for calibration). Built by the script:
//   g++ -O2 -std=c++20 overload_client.cc -o overload_client -lssl -lcrypto
//
//   overload_client attack|legit --port P (--rate R | --concurrency C) --duration S
//       [--host 127.0.0.1] [--source 127.0.0.2] [--sources 8] [--start-at EPOCH_MS]
//       [--timeout-ms T] [--abandon-every 2] [--requests K] [--warmup S] [--sni NAME]
//
// attack: attempt i comes from source (i mod sources) and is a full TLS handshake without a
//   session. Every abandon-every-th attempt of a source writes a ClientHello and closes at
//   once, without reading (the server gets a whole ClientHello, then a FIN); the hellos are
//   recorded from OpenSSL at start-up (64 of them, each with its own random and key share),
//   so abandoning costs this process no key generation. The other attempts complete the
//   handshake and close. Success = handshake done within timeout-ms.
// legit: source i is client i. Before start-at each client makes one full handshake and one
//   request, to get a TLS 1.3 ticket; from then on each session resumes with its client's
//   newest ticket, sends K keep-alive `GET /` one after the other (each answer read whole:
//   status 200 and Content-Length), then closes with a close_notify. Success = all of it
//   done within timeout-ms of the start of connect(); its latency is that span.
// Phases: [priming] -> warm-up (--warmup seconds before start-at, tallied apart) -> measured
// (--duration seconds from start-at) -> drain (what is in flight finishes or times out).
// At the end one JSON object on stdout (bench/overload_report.py reads it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <vector>

namespace {

using Nanos = int64_t;
constexpr Nanos kSecond = 1'000'000'000;

Nanos clockNanos(clockid_t clock) {
  timespec ts = {};
  clock_gettime(clock, &ts);
  return ts.tv_sec * kSecond + ts.tv_nsec;
}
Nanos now() {
  return clockNanos(CLOCK_MONOTONIC);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "overload_client: %s\n", what);
  std::exit(2);
}

struct Options {
  bool legit = false;
  std::string host = "127.0.0.1";
  int port = 0;
  double rate = 0;  // attempts per second; 0 = closed loop at `concurrency`
  int concurrency = 0;
  double duration_s = 10;
  double warmup_s = 0;
  int64_t start_at_ms = 0;  // CLOCK_REALTIME; 0 = at once
  uint32_t source = 0x7f000001;
  int sources = 1;
  int timeout_ms = 1000;
  int abandon_every = 2;  // attack; 0 = every attempt completes its handshake
  int requests = 5;       // legit
  std::string sni = "bench.test";
};

uint32_t parseAddress(const char* text) {
  in_addr a = {};
  if (inet_pton(AF_INET, text, &a) != 1) die("bad IPv4 address");
  return ntohl(a.s_addr);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  if (argc < 2) die("usage: overload_client attack|legit --port P (--rate R|--concurrency C) ...");
  o.legit = std::strcmp(argv[1], "legit") == 0;
  if (!o.legit && std::strcmp(argv[1], "attack") != 0) die("mode is attack or legit");
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = std::atoi(v);
    else if (k == "--rate")
      o.rate = std::atof(v);
    else if (k == "--concurrency")
      o.concurrency = std::atoi(v);
    else if (k == "--duration")
      o.duration_s = std::atof(v);
    else if (k == "--warmup")
      o.warmup_s = std::atof(v);
    else if (k == "--start-at")
      o.start_at_ms = std::atoll(v);
    else if (k == "--source")
      o.source = parseAddress(v);
    else if (k == "--sources")
      o.sources = std::max(1, std::atoi(v));
    else if (k == "--timeout-ms")
      o.timeout_ms = std::atoi(v);
    else if (k == "--abandon-every")
      o.abandon_every = std::atoi(v);
    else if (k == "--requests")
      o.requests = std::max(1, std::atoi(v));
    else if (k == "--sni")
      o.sni = v;
    else
      die(("unknown option " + k).c_str());
  }
  if (o.port <= 0 || (o.rate <= 0 && o.concurrency <= 0))
    die("need --port and --rate or --concurrency");
  return o;
}

// How one attempt ended. kDone = its goal reached (handshake for attack, every answer for legit).
enum Outcome {
  kDone,
  kAbandoned,
  kRefused,
  kReset,
  kClosed,
  kTimeout,
  kTls,
  kHttp,
  kLocal,
  kOutcomes
};
constexpr const char* kOutcomeNames[kOutcomes] = {"done",      "abandoned",  "refused",
                                                  "reset",     "closed",     "timeout",
                                                  "tls_error", "http_error", "local_error"};
enum class Step { kConnecting, kHandshaking, kRequesting, kReading };
constexpr const char* kStepNames[] = {"connect", "handshake", "request", "response"};

struct Tally {
  int64_t attempts = 0;
  int64_t skipped = 0;  // not started: the fd limit was reached
  int64_t outcomes[kOutcomes] = {};
  int64_t failed_at[4] = {};  // by Step
  int64_t resumed = 0;        // sessions done that resumed
  std::vector<float> session_ms, handshake_ms, lag_ms;
};

struct Conn {
  SSL* ssl = nullptr;
  Tally* tally = nullptr;
  Step step = Step::kConnecting;
  bool abandon = false;
  int client = 0;
  int requests_done = 0;
  uint32_t generation = 0;
  uint32_t events = 0;
  Nanos started = 0;
  Nanos handshake_done = 0;
  std::string response;
};

// A stretch of time with one way of starting attempts, tallied into one Tally.
struct Phase {
  Tally* tally;
  double rate;
  int concurrency;
  Nanos end;
  int64_t max_attempts;
  int requests;
  Nanos timeout;
};

std::vector<std::string> recordClientHellos(SSL_CTX* ctx, const std::string& sni, int n) {
  std::vector<std::string> hellos;
  for (int i = 0; i < n; ++i) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_tlsext_host_name(ssl, sni.c_str());
    SSL_connect(ssl);  // wants to read the ServerHello: the ClientHello is in the write BIO
    char* bytes = nullptr;
    long size = BIO_get_mem_data(SSL_get_wbio(ssl), &bytes);
    if (size <= 0) die("could not record a ClientHello");
    hellos.emplace_back(bytes, static_cast<size_t>(size));
    SSL_free(ssl);
  }
  return hellos;
}

// Each legit client keeps a copy of its newest ticket; OpenSSL hands it over here (TLS 1.3
// tickets come after the handshake, while the first answer is read). A copy, because OpenSSL
// marks the session object of a connection not resumable at SSL_free (after a resumption, or
// without a close_notify), and a server that sends no new ticket after a resumption (tlsgate)
// leaves the client with the one it used.
int keepNewestSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SSL_SESSION**>(SSL_get_app_data(ssl));
  if (slot == nullptr) return 0;
  if (*slot != nullptr) SSL_SESSION_free(*slot);
  *slot = SSL_SESSION_dup(session);
  return 0;  // OpenSSL keeps its reference
}

SSL_CTX* makeContext(bool legit) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) die("SSL_CTX_new");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // the server's RSA signature is still checked
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);  // a server's close reads as EOF
  if (legit) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, keepNewestSession);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  return ctx;
}

class Generator {
 public:
  Generator(const Options& options, SSL_CTX* ctx) : o_(options), ctx_(ctx) {
    rlimit lim = {};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    max_live_ = static_cast<int>(lim.rlim_cur) - 64;
    conns_.resize(lim.rlim_cur);
    sessions_.assign(o_.sources, nullptr);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    dst_.sin_family = AF_INET;
    dst_.sin_port = htons(static_cast<uint16_t>(o_.port));
    dst_.sin_addr.s_addr = htonl(parseAddress(o_.host.c_str()));
    if (!o_.legit && o_.abandon_every > 0) hellos_ = recordClientHellos(ctx_, o_.sni, 64);
  }

  void run();
  void report() const;

 private:
  void runPhase(Phase& phase, bool drain);
  void startDue(Phase& phase, Nanos at, Nanos& next, Nanos interval);
  void start(Phase& phase);
  void onEvent(int fd);
  void onConnected(int fd);
  void drive(int fd);
  bool readAnswer(int fd, int& rc);
  void onHandshake(int fd);
  void finish(int fd, Outcome outcome);
  static Outcome failure(int ssl_error);
  void want(int fd, uint32_t events);
  void expire(Nanos at);
  int waitNanos(Nanos at, Nanos until) const;
  void printTally(const char* name, const Tally& t, double seconds) const;

  Options o_;
  SSL_CTX* ctx_;
  int epoll_ = -1;
  sockaddr_in dst_ = {};
  int max_live_ = 0;
  int live_ = 0;
  int64_t sequence_ = 0;
  int requests_ = 1;
  std::vector<Conn> conns_;                                           // by fd
  std::deque<std::pair<Nanos, std::pair<int, uint32_t>>> deadlines_;  // in start order
  std::vector<SSL_SESSION*> sessions_;                                // legit: by client
  std::vector<std::string> hellos_;                                   // attack: recorded
  size_t hellos_sent_ = 0;
  Tally prime_, warmup_, measured_;
  Nanos measured_start_ = 0;
  Nanos measured_end_ = 0;
};

void Generator::run() {
  Nanos start = now();
  if (o_.legit) {  // one full handshake per client, to get its first ticket
    Phase prime = {&prime_, 0, std::min(16, o_.sources), now() + 60 * kSecond, o_.sources, 1, 0};
    prime.timeout = 5 * kSecond;
    runPhase(prime, true);
    start = now();
  }
  if (o_.start_at_ms > 0) {
    start = now() + o_.start_at_ms * 1'000'000 - clockNanos(CLOCK_REALTIME);
  } else {
    start += static_cast<Nanos>(o_.warmup_s * kSecond);
  }
  Nanos timeout = o_.timeout_ms * Nanos{1'000'000};
  Nanos warmup_start = start - static_cast<Nanos>(o_.warmup_s * kSecond);
  Nanos wait = warmup_start - now();
  if (wait > 0) {
    timespec ts = {static_cast<time_t>(wait / kSecond), static_cast<long>(wait % kSecond)};
    nanosleep(&ts, nullptr);
  }
  Phase warmup = {&warmup_, o_.rate, o_.concurrency, start, INT64_MAX, o_.requests, timeout};
  if (o_.warmup_s > 0) runPhase(warmup, false);
  measured_start_ = now();
  Nanos end = start + static_cast<Nanos>(o_.duration_s * kSecond);
  Phase measured = {&measured_, o_.rate, o_.concurrency, end, INT64_MAX, o_.requests, timeout};
  runPhase(measured, true);
  measured_end_ = end;
}

void Generator::runPhase(Phase& phase, bool drain) {
  requests_ = phase.requests;
  Nanos interval = phase.rate > 0 ? static_cast<Nanos>(kSecond / phase.rate) : 0;
  Nanos next = now();
  epoll_event events[256];
  for (;;) {
    Nanos at = now();
    bool open = at < phase.end && phase.tally->attempts < phase.max_attempts;
    if (open && interval > 0) startDue(phase, at, next, interval);
    while (open && interval == 0 && live_ < phase.concurrency &&
           phase.tally->attempts < phase.max_attempts) {
      start(phase);
    }
    if (!open && (!drain || live_ == 0)) return;
    Nanos until = !open ? INT64_MAX : interval > 0 ? std::min(next, phase.end) : phase.end;
    timespec wait = {0, waitNanos(at, until)};
    int n = epoll_pwait2(epoll_, events, 256, &wait, nullptr);
    for (int i = 0; i < n; ++i) onEvent(events[i].data.fd);
    expire(now());  // after the events: what is ready in time is not counted late
  }
}

// Open loop: every attempt due by now starts, late or not; how late is recorded.
void Generator::startDue(Phase& phase, Nanos at, Nanos& next, Nanos interval) {
  while (next <= at && next < phase.end) {
    if (phase.tally == &measured_) measured_.lag_ms.push_back(static_cast<float>(at - next) / 1e6f);
    if (live_ < max_live_) {
      start(phase);
    } else {
      ++phase.tally->skipped;
    }
    next += interval;
  }
}

// Until the next start (when starting) or the first deadline, 50 ms at most.
int Generator::waitNanos(Nanos at, Nanos until) const {
  if (!deadlines_.empty()) until = std::min(until, deadlines_.front().first);
  return static_cast<int>(std::clamp<Nanos>(until - at, 0, 50'000'000));
}

void Generator::start(Phase& phase) {
  int64_t seq = sequence_++;
  int client = static_cast<int>(seq % o_.sources);
  Tally& tally = *phase.tally;
  ++tally.attempts;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++tally.outcomes[kLocal];
    return;
  }
  Conn& c = conns_[fd];
  uint32_t generation = c.generation + 1;  // tells a stale deadline of this fd from this one
  c = Conn{nullptr, &tally, Step::kConnecting, false, client, 0, generation, EPOLLOUT, now(),
           0,       {}};
  c.abandon = !hellos_.empty() && (seq / o_.sources) % o_.abandon_every == 0;
  ++live_;
  deadlines_.push_back({c.started + phase.timeout, {fd, c.generation}});
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);  // port picked per peer
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in src = {};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(o_.source + static_cast<uint32_t>(client));
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      (connect(fd, reinterpret_cast<sockaddr*>(&dst_), sizeof dst_) != 0 && errno != EINPROGRESS)) {
    finish(fd, errno == ECONNREFUSED ? kRefused : kLocal);
    return;
  }
  epoll_event ev = {EPOLLOUT, {}};
  ev.data.fd = fd;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
}

void Generator::onEvent(int fd) {
  if (conns_[fd].tally == nullptr) return;  // finished by an earlier event of this batch
  if (conns_[fd].step == Step::kConnecting) {
    onConnected(fd);
  } else {
    drive(fd);
  }
}

void Generator::onConnected(int fd) {
  Conn& c = conns_[fd];
  int error = 0;
  socklen_t size = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error != 0) {
    finish(fd, error == ECONNREFUSED ? kRefused : error == ECONNRESET ? kReset : kLocal);
    return;
  }
  if (c.abandon) {
    const std::string& hello = hellos_[hellos_sent_++ % hellos_.size()];
    ssize_t sent = send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    finish(fd, sent == static_cast<ssize_t>(hello.size()) ? kAbandoned : kReset);
    return;
  }
  c.ssl = SSL_new(ctx_);
  SSL_set_fd(c.ssl, fd);
  SSL_set_connect_state(c.ssl);
  SSL_set_tlsext_host_name(c.ssl, o_.sni.c_str());
  if (o_.legit) {
    SSL_set_app_data(c.ssl, &sessions_[static_cast<size_t>(c.client)]);
    if (SSL_SESSION* kept = sessions_[static_cast<size_t>(c.client)]; kept != nullptr) {
      SSL_SESSION* offered = SSL_SESSION_dup(kept);  // see keepNewestSession
      SSL_set_session(c.ssl, offered);
      SSL_SESSION_free(offered);
    }
  }
  c.step = Step::kHandshaking;
  drive(fd);
}

// Runs the connection as far as it goes without waiting; stops at a want or at its end.
void Generator::drive(int fd) {
  static const std::string request = "GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n";
  for (;;) {
    Conn& c = conns_[fd];
    int rc = 0;
    if (c.step == Step::kHandshaking) {
      rc = SSL_do_handshake(c.ssl);
      if (rc == 1) {
        onHandshake(fd);
        if (conns_[fd].tally == nullptr) return;
        continue;
      }
    } else if (c.step == Step::kRequesting) {
      rc = SSL_write(c.ssl, request.data(), static_cast<int>(request.size()));
      if (rc > 0) {
        c.step = Step::kReading;
        c.response.clear();
        continue;
      }
    } else if (readAnswer(fd, rc)) {
      if (conns_[fd].tally == nullptr) return;
      continue;
    }
    int error = SSL_get_error(c.ssl, rc);
    if (error == SSL_ERROR_WANT_READ) return want(fd, EPOLLIN);
    if (error == SSL_ERROR_WANT_WRITE) return want(fd, EPOLLOUT);
    return finish(fd, failure(error));
  }
}

// True when an answer was read whole (the connection moved on or finished); otherwise rc
// holds SSL_read's result for SSL_get_error.
bool Generator::readAnswer(int fd, int& rc) {
  Conn& c = conns_[fd];
  char buffer[4096];
  while ((rc = SSL_read(c.ssl, buffer, sizeof buffer)) > 0) {
    c.response.append(buffer, static_cast<size_t>(rc));
    size_t head = c.response.find("\r\n\r\n");
    if (head == std::string::npos) continue;
    if (c.response.compare(0, 12, "HTTP/1.1 200") != 0) {
      finish(fd, kHttp);
      return true;
    }
    size_t length_at = c.response.find("Content-Length: ");
    if (length_at == std::string::npos || length_at > head) {
      finish(fd, kHttp);
      return true;
    }
    size_t length = std::strtoul(c.response.c_str() + length_at + 16, nullptr, 10);
    if (c.response.size() < head + 4 + length) continue;
    if (++c.requests_done < requests_) {
      c.step = Step::kRequesting;
    } else {
      SSL_shutdown(c.ssl);  // a polite client: close_notify, then FIN
      finish(fd, kDone);
    }
    return true;
  }
  return false;
}

void Generator::onHandshake(int fd) {
  Conn& c = conns_[fd];
  c.handshake_done = now();
  if (!o_.legit) return finish(fd, kDone);
  c.step = Step::kRequesting;
}

Outcome Generator::failure(int ssl_error) {
  int saved = errno;
  ERR_clear_error();  // a stale error would mislead SSL_get_error on another connection
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return kClosed;
  if (ssl_error == SSL_ERROR_SYSCALL) return saved == 0 ? kClosed : kReset;
  return kTls;
}

void Generator::want(int fd, uint32_t events) {
  Conn& c = conns_[fd];
  if (c.events == events) return;
  c.events = events;
  epoll_event ev = {events, {}};
  ev.data.fd = fd;
  epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
}

void Generator::finish(int fd, Outcome outcome) {
  Conn& c = conns_[fd];
  Tally& t = *c.tally;
  ++t.outcomes[outcome];
  if (outcome != kDone && outcome != kAbandoned) ++t.failed_at[static_cast<int>(c.step)];
  if (outcome == kDone && c.handshake_done > 0) {
    t.handshake_ms.push_back(static_cast<float>(c.handshake_done - c.started) / 1e6f);
    if (o_.legit) t.session_ms.push_back(static_cast<float>(now() - c.started) / 1e6f);
    if (c.ssl != nullptr && SSL_session_reused(c.ssl)) ++t.resumed;
  }
  if (c.ssl != nullptr) SSL_free(c.ssl);
  close(fd);  // also leaves the epoll set
  c.ssl = nullptr;
  c.tally = nullptr;
  c.response = std::string();
  --live_;
}

void Generator::expire(Nanos at) {
  while (!deadlines_.empty() && deadlines_.front().first <= at) {
    auto [fd, generation] = deadlines_.front().second;
    deadlines_.pop_front();
    Conn& c = conns_[fd];
    if (c.tally != nullptr && c.generation == generation) finish(fd, kTimeout);
  }
}

double percentile(std::vector<float> values, double p) {
  if (values.empty()) return -1;
  size_t rank = static_cast<size_t>(std::ceil(p / 100 * values.size()));
  rank = std::clamp<size_t>(rank, 1, values.size()) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(rank), values.end());
  return values[rank];
}

void Generator::printTally(const char* name, const Tally& t, double seconds) const {
  std::printf("\"%s\": {\"seconds\": %.3f, \"attempts\": %lld, \"skipped\": %lld, ", name, seconds,
              static_cast<long long>(t.attempts), static_cast<long long>(t.skipped));
  for (int i = 0; i < kOutcomes; ++i) {
    std::printf("\"%s\": %lld, ", kOutcomeNames[i], static_cast<long long>(t.outcomes[i]));
  }
  std::printf("\"failed_at\": {");
  for (int i = 0; i < 4; ++i) {
    std::printf("%s\"%s\": %lld", i ? ", " : "", kStepNames[i],
                static_cast<long long>(t.failed_at[i]));
  }
  std::printf("}, \"resumed\": %lld", static_cast<long long>(t.resumed));
  const std::pair<const char*, const std::vector<float>*> series[] = {
      {"session_ms", &t.session_ms},
      {"handshake_ms", &t.handshake_ms},
      {"start_lag_ms", &t.lag_ms}};
  for (auto [key, values] : series) {
    if (values->empty()) continue;
    std::printf(", \"%s\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}", key,
                percentile(*values, 50), percentile(*values, 90), percentile(*values, 99),
                percentile(*values, 100));
  }
  std::printf("}");
}

void Generator::report() const {
  rusage self = {};
  getrusage(RUSAGE_SELF, &self);
  double cpu = static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
               static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  std::printf("{\"mode\": \"%s\", \"rate\": %.1f, \"concurrency\": %d, \"sources\": %d, ",
              o_.legit ? "legit" : "attack", o_.rate, o_.concurrency, o_.sources);
  std::printf("\"timeout_ms\": %d, \"requests\": %d, \"abandon_every\": %d, \"cpu_s\": %.3f, ",
              o_.timeout_ms, o_.legit ? o_.requests : 0, o_.legit ? 0 : o_.abandon_every, cpu);
  std::printf("\"primed_clients\": %lld, ",
              static_cast<long long>(std::count_if(sessions_.begin(), sessions_.end(),
                                                   [](SSL_SESSION* s) { return s != nullptr; })));
  printTally("prime", prime_, 0);
  std::printf(", ");
  printTally("warmup", warmup_, o_.warmup_s);
  std::printf(", ");
  printTally("measured", measured_, static_cast<double>(measured_end_ - measured_start_) / 1e9);
  std::printf("}\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parseOptions(argc, argv);
  SSL_CTX* ctx = makeContext(options.legit);
  Generator generator(options, ctx);
  generator.run();
  generator.report();
  return 0;
}
