#include "app/signals.h"

#include <cerrno>
#include <ctime>

#include "core/log.h"
#include "stats/counters.h"

namespace tlsgate::app {

namespace {

void printStats(const Gateway& gateway) {
  log::info("stats %s", stats::CounterRegistry::toJson(gateway.counters()).c_str());
}

// Handles the signals that mean the same in every state; false for SIGTERM and SIGINT.
bool handleRoutine(Gateway& gateway, int sig) {
  switch (sig) {
    case SIGUSR1:
      printStats(gateway);
      return true;
    case SIGUSR2:
      gateway.reopenLogs();
      return true;
    default:
      return false;
  }
}

// SIGTERM was received: wait for the workers to drain, still answering signals.
void waitForDrain(Gateway& gateway, const sigset_t& signals) {
  const timespec tick{0, 100'000'000};
  while (gateway.running()) {
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig < 0 || handleRoutine(gateway, sig)) continue;
    if (sig == SIGHUP) {
      log::info("SIGHUP: ignored while draining");
      continue;
    }
    log::info("%s while draining: stopping now", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gateway.stopNow();
    return;
  }
}

}  // namespace

sigset_t blockSignals() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void runSignalLoop(Gateway& gateway, const sigset_t& signals) {
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (handleRoutine(gateway, sig)) continue;
    if (sig == SIGHUP) {
      gateway.requestReload();  // S16: the reload thread does the work
      continue;
    }
    if (sig == SIGTERM) {
      gateway.beginDrain();
      waitForDrain(gateway, signals);
    } else {
      log::info("SIGINT: stopping");
      gateway.stopNow();
    }
    break;
  }
  gateway.join();
}

}  // namespace tlsgate::app
