// Per-listener connection statistics: accepted, closed by outcome, bytes each way.
//
// A listener's stats are registered once (when it is opened, or by its first connection)
// and never removed, so that its counters stay monotonic across reloads. Each has one
// cache-line slot per worker, written only by that worker (relaxed single-writer updates,
// as CounterBlock); lookups by a connection are lock-free.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "stats/series.h"

namespace tlsgate::stats {

// How far a connection got, counted when it closes (README "Metrics"):
//   terminated    TLS terminated here and answered by the built-in endpoint (inspect)
//   forward       TLS terminated, plaintext relayed to an upstream
//   partial_blind TLS terminated, re-encrypted to a TLS origin (relay started)
//   tunnel        blind tunnel connected to its destination (TLS never terminated here)
//   error         closed before any of these data phases started
enum class Outcome : uint8_t { kTerminated, kForward, kPartialBlind, kTunnel, kError };
inline constexpr size_t kOutcomes = 5;
const char* toString(Outcome o);

struct ListenerTotals {
  uint64_t accepted = 0;
  std::array<uint64_t, kOutcomes> closed{};
  uint64_t bytesIn = 0;   // from clients
  uint64_t bytesOut = 0;  // to clients
  uint64_t active() const;
};

class ListenerStats {
 public:
  // Workers with an id at or above this share slots (and then may lose updates).
  static constexpr size_t kMaxWorkers = 256;

  ListenerStats(std::string key, std::string label);

  void accepted(int worker) { bump(slot(worker).accepted); }
  void closed(int worker, Outcome outcome, uint64_t bytesIn, uint64_t bytesOut);
  ListenerTotals sum() const;

  const std::string& key() const { return key_; }

  // Connections open now (listeners[].max_connections); any thread. Kept by admission
  // control (proxy/admission.h), not by the slots, because it must be exact at once.
  std::atomic<uint32_t> open{0};
  const std::string& label() const { return label_; }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> accepted{0};
    std::array<std::atomic<uint64_t>, kOutcomes> closed{};
    std::atomic<uint64_t> bytesIn{0};
    std::atomic<uint64_t> bytesOut{0};
  };
  Slot& slot(int worker) { return slots_[static_cast<size_t>(worker) % kMaxWorkers]; }

  std::string key_;    // the address as written in tlsgate.yaml (port may be 0)
  std::string label_;  // the bound address, as shown in metrics
  std::unique_ptr<Slot[]> slots_;
};

class ListenerRegistry {
 public:
  static constexpr size_t kMaxListeners = 256;
  static ListenerRegistry& instance();

  // Registers the listener written as `key` (once; later calls return the same
  // stats). Takes a mutex: not for the hot path. nullptr past kMaxListeners.
  ListenerStats* add(const std::string& key, const std::string& label);
  // Lock-free: the stats of a registered listener, else nullptr.
  ListenerStats* find(const std::string& key) const;
  // Every registered listener, in registration order.
  std::vector<const ListenerStats*> all() const;

 private:
  std::array<std::atomic<ListenerStats*>, kMaxListeners> entries_{};
  std::atomic<size_t> count_{0};
  std::mutex mutex_;
  std::vector<std::unique_ptr<ListenerStats>> owned_;
};

}  // namespace tlsgate::stats
