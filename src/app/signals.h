// The signal loop of the main thread: every handled signal is blocked in every thread and
// taken here synchronously (sigwait), so no work happens in a signal handler.
//
//   SIGHUP   reload (S16), on the reload thread: the loop never waits for it
//   SIGUSR1  the counters as one `stats {json}` line
//   SIGUSR2  reopen the log files
//   SIGTERM  drain: stop accepting, let connections finish until drain_timeout; a second
//            SIGTERM (or SIGINT) stops at once
//   SIGINT   stop at once
#pragma once

#include <signal.h>

#include "app/gateway.h"

namespace tlsgate::app {

// Blocks the handled signals in the calling thread and the threads it starts later; call
// it before any thread starts.
sigset_t blockSignals();

// Returns when every worker has stopped (the gateway is then joined).
void runSignalLoop(Gateway& gateway, const sigset_t& signals);

}  // namespace tlsgate::app
