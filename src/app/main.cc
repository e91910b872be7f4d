// tlsgate: wiring. Parses the command line, builds the configuration snapshot, opens one
// listening socket per worker and listener, starts the workers and handles signals.
#include <malloc.h>
#include <openssl/crypto.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "app/command_line.h"
#include "app/plugin_loader.h"
#include "config/snapshot.h"
#include "hooks/hook_registry.h"
#include "core/log.h"
#include "net/socket.h"
#include "proxy/worker.h"
#include "stats/counters.h"

using namespace tlsgate;

namespace {

// Blocks the signals we handle in every thread (threads inherit the mask); the main thread
// then takes them synchronously with sigwait.
sigset_t blockSignals() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// One socket per worker on each listener address. A port of 0 is chosen by the kernel on
// the first socket; the others bind that same port.
Status openListeners(const config::GatewayConfig& cfg,
                     std::vector<std::unique_ptr<proxy::Worker>>& workers) {
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const auto& l = cfg.listeners[i];
    net::Address address = l.address;
    for (auto& w : workers) {
      auto fd = net::listenReusePort(address, l.transparent);
      if (!fd) return Error{cfg.path, l.line, fd.error().message};
      if (address.port() == 0) address = net::localAddress(fd->get());
      w->addListener(std::move(fd.value()), address, i);
    }
    log::info("listening on %s", address.toString().c_str());
  }
  return Ok{};
}

// Keep freed memory in the process instead of trimming the heap after every burst: a heap
// that shrinks and regrows pays an mprotect() and fresh zeroed pages per handshake.
void tuneAllocator() {
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  auto options = app::parseCommandLine(argc, argv);
  if (!options) {
    std::fprintf(stderr, "tlsgate: %s\n%s", options.error().message.c_str(), app::kUsage);
    return 2;
  }
  if (options->help) {
    std::fputs(app::kUsage, stdout);
    return 0;
  }
  if (options->version) {
    std::printf("tlsgate %s\n%s\n", TLSGATE_VERSION, OpenSSL_version(OPENSSL_VERSION));
    return 0;
  }
  log::setDebugTags(options->debugTags);

  // Plugins come first: the snapshot offers the ALPN protocols their endpoints serve.
  auto parsed = config::loadGatewayConfig(options->configPath);
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.error().toString().c_str());
    return 1;
  }
  if (Status s = app::loadPlugins(*parsed, /*initialise=*/!options->check); !s) {
    std::fprintf(stderr, "%s\n", s.error().toString().c_str());
    return 1;
  }
  auto snapshot = config::buildSnapshot(std::move(parsed.value()),
                                        hooks::HookRegistry::instance().endpointProtocols());
  if (!snapshot) {
    std::fprintf(stderr, "%s\n", snapshot.error().toString().c_str());
    return 1;
  }
  const auto& cfg = (*snapshot)->config;
  if (options->check) {
    std::printf("configuration OK\n");
    return 0;
  }

  tuneAllocator();
  sigset_t signals = blockSignals();
  stats::CounterRegistry counters;
  proxy::OriginSessionCache originSessions(cfg.ssl.client.sessionCache);
  std::vector<std::unique_ptr<proxy::Worker>> workers;
  for (unsigned i = 0; i < cfg.threads; ++i)
    workers.push_back(
        std::make_unique<proxy::Worker>(i, counters.newBlock(), *snapshot, originSessions));
  if (Status s = openListeners(cfg, workers); !s) {
    std::fprintf(stderr, "%s\n", s.error().toString().c_str());
    return 1;
  }

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  log::info("%u worker threads, %s", cfg.threads, OpenSSL_version(OPENSSL_VERSION));
  log::info("ready");

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGUSR1) {
      auto totals = counters.sum();
      const auto background = stats::backgroundCounters().sum();
      for (size_t i = 0; i < totals.size(); ++i) totals[i] += background[i];
      log::info("stats %s", stats::CounterRegistry::toJson(totals).c_str());
      continue;
    }
    if (sig == SIGHUP) {
      log::info("SIGHUP: reload is not supported yet; configuration unchanged");
      continue;
    }
    log::info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  for (auto& w : workers) w->stop();
  for (auto& t : threads) t.join();
  workers.clear();
  log::info("stopped");
  return 0;
}
