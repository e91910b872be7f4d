// Names the calling thread: what `top -H`, `ps -L` and /proc/<pid>/task/<tid>/comm show,
// so that the CPU time of the workers, the ACME client and the other background threads can
// be told apart (bench/acme.sh reads it per thread).
#pragma once

#include <pthread.h>

#include <string>

namespace tlsgate {

// Linux keeps 15 bytes of a thread's name; a longer one is cut there rather than refused.
inline void nameThisThread(std::string name) {
  constexpr size_t kMaxName = 15;
  if (name.size() > kMaxName) name.resize(kMaxName);
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace tlsgate
