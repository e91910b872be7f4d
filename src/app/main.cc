// tlsgate: wiring. Parses the command line, loads the configuration and the plugins, starts
// the Gateway and hands the main thread to the signal loop.
#include <malloc.h>
#include <openssl/crypto.h>

#include <cstdio>

#include "admin/admin_endpoint.h"
#include "app/acme_http.h"
#include "app/activation.h"
#include "app/command_line.h"
#include "app/gateway.h"
#include "app/plugin_loader.h"
#include "app/signals.h"
#include "config/schema.h"
#include "config/snapshot.h"
#include "core/access_log.h"
#include "core/log.h"
#include "hooks/hook_registry.h"
#include "tls/groups.h"

using namespace tlsgate;

namespace {

// Keep freed memory in the process instead of trimming the heap after every burst: a heap
// that shrinks and regrows pays an mprotect() and fresh zeroed pages per handshake.
void tuneAllocator() {
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 16 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

// --help, --config-keys, --version: what prints and exits; -1 when none was asked.
int answerQuestions(const app::Options& options) {
  if (options.help) {
    std::fputs(app::kUsage, stdout);
    return 0;
  }
  if (options.configKeys) {
    std::fputs(config::schema::markdownReference().c_str(), stdout);
    return 0;
  }
  if (options.version) {
    std::printf("tlsgate %s\n%s\n", TLSGATE_VERSION, OpenSSL_version(OPENSSL_VERSION));
    return 0;
  }
  return -1;
}

int fail(const Error& e) {
  std::fprintf(stderr, "%s\n", e.toString().c_str());
  return 1;
}

// The access log is set up once; a reload that changes it says it takes effect at
// restart (app/restart_only.cc).
Result<std::unique_ptr<AccessLog>> openAccessLog(const config::GatewayConfig& cfg) {
  if (!cfg.accessLog) return std::unique_ptr<AccessLog>();
  auto opened = AccessLog::open(cfg.accessLog->path, cfg.threads);
  if (!opened)
    return Error{cfg.path, cfg.accessLog->line, "access_log: " + opened.error().toString()};
  AccessLog::setActive(opened->get());
  return std::move(opened.value());
}

// Serves until a signal ends it (app/signals.h): the admin endpoint (set up once, like the
// access log), the startup lines, then the signal loop.
int serve(app::Gateway& gateway, sigset_t signals) {
  // Held: a reload through the admin endpoint may replace the gateway's snapshot any time.
  std::shared_ptr<const config::Snapshot> atStart = gateway.snapshot();
  const config::GatewayConfig& running = atStart->config;
  admin::AdminEndpoint adminEndpoint(gateway, gateway.counterRegistry());
  std::unique_ptr<admin::HttpServer> adminServer;
  if (running.admin) {
    auto started = admin::startAdmin(running.admin->address, adminEndpoint);
    if (!started) return fail(Error{running.path, running.admin->line, started.error().toString()});
    adminServer = std::move(started.value());
  }
  std::unique_ptr<admin::HttpServer> acmeHttp;  // acme.http_listener (set up once)
  if (running.acme && running.acme->httpListener) {
    auto started = app::startAcmeHttp(
        *running.acme->httpListener, [&gateway] { return gateway.snapshot()->acmeManager; },
        stats::backgroundCounters().newBlock());
    if (!started)
      return fail(Error{running.path, running.acme->line,
                        "acme.http_listener: " + started.error().toString()});
    acmeHttp = std::move(started.value());
  }
  log::info("%u worker threads, %s", running.threads, OpenSSL_version(OPENSSL_VERSION));
  // The default groups follow the library: say when that leaves post-quantum out.
  if (!tls::defaultGroups().postQuantum && running.ssl.groups.empty())
    log::info(
        "no post-quantum key exchange: this OpenSSL has no X25519MLKEM768 (3.5+ has); "
        "default groups %s",
        tls::defaultGroups().server.c_str());
  log::info("ready");
  app::runSignalLoop(gateway, signals);
  return 0;
}

// Everything main does.
int run(int argc, char** argv) {
  auto options = app::parseCommandLine(argc, argv);
  if (!options) {
    std::fprintf(stderr, "tlsgate: %s\n%s", options.error().message.c_str(), app::kUsage);
    return 2;
  }
  if (int answered = answerQuestions(*options); answered >= 0) return answered;
  log::setDebugTags(options->debugTags);

  // Plugins come first: the snapshot offers the ALPN protocols their endpoints serve.
  auto parsed = config::loadGatewayConfig(options->configPath);
  if (!parsed) return fail(parsed.error());
  if (Status s = app::loadPlugins(*parsed, /*initialise=*/!options->check); !s)
    return fail(s.error());
  auto protocols = hooks::HookRegistry::instance().endpointProtocols();
  auto snapshot = config::buildSnapshot(std::move(parsed.value()), protocols);
  if (!snapshot) return fail(snapshot.error());
  if (options->check) {  // built and checked; nothing started, no name looked up
    std::printf("configuration OK\n");
    return 0;
  }
  if (Status s = app::activate(**snapshot, nullptr); !s) return fail(s.error());

  tuneAllocator();
  sigset_t signals = app::blockSignals();
  auto accessLog = openAccessLog((*snapshot)->config);
  if (!accessLog) return fail(accessLog.error());
  app::Gateway gateway(std::move(snapshot.value()), std::move(protocols));
  if (*accessLog) gateway.setReopenLogs([log = accessLog->get()] { log->reopen(); });
  if (Status s = gateway.start(); !s) return fail(s.error());
  int status = serve(gateway, signals);
  AccessLog::setActive(nullptr);
  accessLog->reset();  // flushes the last lines
  if (status == 0) log::info("stopped");
  return status;
}

}  // namespace

// run() reports every expected failure as an error; this is for the
// allocation or thread the system refuses while starting (a memory or process limit): a
// message and exit code 1, not an abort.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fputs("tlsgate: out of memory\n", stderr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tlsgate: %s\n", e.what());
  }
  return 1;
}
