// Background threads that never take a signal.
//
// main() takes SIGHUP, SIGTERM and the others with sigwait after blocking them; a thread
// started before that (while the first snapshot is built: ticket key rotation, the Redis
// key sync) would inherit an open mask and could be the one a signal is delivered to,
// killing the process. Such threads are born with every signal blocked.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

namespace tlsgate {

template <class F>
std::thread startSignalFreeThread(F&& body) {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  std::thread thread(std::forward<F>(body));
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return thread;
}

}  // namespace tlsgate
