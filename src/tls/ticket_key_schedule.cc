#include "tls/ticket_key_schedule.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace tlsgate::tls {

namespace {

constexpr char kMagic[4] = {'S', 'T', 'E', 'K'};
constexpr uint8_t kFormat = 1;
constexpr size_t kHeaderSize = 8;
constexpr size_t kEntrySize = 8 + TicketKey::kFileSize;  // activation + key

void putKey(std::string& out, const TicketKey& key) {
  for (const auto* part : {&key.name, &key.hmacSecret, &key.aesKey})
    out.append(reinterpret_cast<const char*>(part->data()), part->size());
}

void getKey(const unsigned char* in, TicketKey& key) {
  for (auto* part : {&key.name, &key.hmacSecret, &key.aesKey}) {
    std::memcpy(part->data(), in, part->size());
    in += part->size();
  }
}

// Index of the encrypting key: the newest activated one, else the oldest (none activated).
size_t encryptingIndex(const SharedRing& ring, int64_t nowMs) {
  size_t current = 0;
  for (size_t i = 0; i < ring.size(); ++i)
    if (ring[i].activationMs <= nowMs) current = i;
  return current;
}

}  // namespace

std::string encodeSharedRing(const SharedRing& ring) {
  std::string out(kMagic, sizeof kMagic);
  out += static_cast<char>(kFormat);
  out += static_cast<char>(kEntrySize);
  out += static_cast<char>((ring.size() >> 8) & 0xff);
  out += static_cast<char>(ring.size() & 0xff);
  for (const auto& entry : ring) {
    const auto act = static_cast<uint64_t>(entry.activationMs);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((act >> shift) & 0xff);
    putKey(out, entry.key);
  }
  return out;
}

Result<SharedRing> decodeSharedRing(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < kHeaderSize || std::memcmp(p, kMagic, sizeof kMagic) != 0)
    return Error{"", 0, "not a tlsgate ticket key ring (no STEK header)"};
  const size_t format = p[4], entrySize = p[5], count = (size_t{p[6]} << 8) | p[7];
  if (format < kFormat || entrySize < kEntrySize)
    return Error{"", 0,
                 "ticket key ring format " + std::to_string(format) + " with entries of " +
                     std::to_string(entrySize) + " bytes is not readable"};
  if (bytes.size() != kHeaderSize + count * entrySize)
    return Error{"", 0,
                 "ticket key ring of " + std::to_string(bytes.size()) + " bytes does not hold " +
                     std::to_string(count) + " entries"};
  SharedRing ring(count);
  for (size_t i = 0; i < count; ++i) {
    const unsigned char* e = p + kHeaderSize + i * entrySize;
    uint64_t act = 0;
    for (int b = 0; b < 8; ++b) act = (act << 8) | e[b];
    ring[i].activationMs = static_cast<int64_t>(act);
    getKey(e + 8, ring[i].key);
  }
  // Tolerate a writer that did not sort; refuse duplicate names (a decrypt would be ambiguous).
  std::stable_sort(ring.begin(), ring.end(),
                   [](const auto& a, const auto& b) { return a.activationMs < b.activationMs; });
  for (size_t i = 0; i < ring.size(); ++i)
    for (size_t j = i + 1; j < ring.size(); ++j)
      if (ring[i].key.name == ring[j].key.name)
        return Error{"", 0, "ticket key ring holds the same key name twice"};
  return ring;
}

SharedRing pruneSharedRing(SharedRing ring, int64_t nowMs, const KeySchedule& schedule) {
  // Key i is superseded when key i+1 activated; it goes retention later.
  SharedRing kept;
  for (size_t i = 0; i < ring.size(); ++i) {
    const bool expired = i + 1 < ring.size() && ring[i + 1].activationMs <= nowMs &&
                         nowMs - ring[i + 1].activationMs > schedule.retentionMs();
    if (!expired) kept.push_back(std::move(ring[i]));
  }
  return kept;
}

std::optional<int64_t> nextKeyActivation(const SharedRing& ring, int64_t nowMs,
                                         const KeySchedule& schedule) {
  if (ring.empty()) return nowMs + schedule.leadMs;
  const int64_t newest = ring.back().activationMs;
  if (newest > nowMs) return {};  // a pending key already exists
  const int64_t due = newest + schedule.rotationMs;
  if (due - schedule.leadMs > nowMs) return {};
  // After a long outage `due` may be past: never activate a key before others can read it.
  return std::max(due, nowMs + schedule.leadMs);
}

std::optional<int64_t> nextActivationAfter(const SharedRing& ring, int64_t nowMs) {
  for (const auto& entry : ring)
    if (entry.activationMs > nowMs) return entry.activationMs;
  return {};
}

TicketKeyRing workingRing(const SharedRing& ring, int64_t nowMs,
                          const std::vector<TicketKey>& decryptOnly) {
  TicketKeyRing out;
  if (!ring.empty()) {
    const size_t current = encryptingIndex(ring, nowMs);
    out.keys.push_back(ring[current].key);
    for (size_t i = current + 1; i < ring.size(); ++i) out.keys.push_back(ring[i].key);
    for (size_t i = current; i-- > 0;) out.keys.push_back(ring[i].key);
  }
  for (const auto& key : decryptOnly)
    if (!out.find(key.name.data())) out.keys.push_back(key);
  return out;
}

bool sameKey(const TicketKey& a, const TicketKey& b) {
  return a.name == b.name && CRYPTO_memcmp(a.hmacSecret.data(), b.hmacSecret.data(), 16) == 0 &&
         CRYPTO_memcmp(a.aesKey.data(), b.aesKey.data(), 16) == 0;
}

bool sameRing(const SharedRing& a, const SharedRing& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.activationMs == y.activationMs && sameKey(x.key, y.key);
  });
}

bool sameKeys(const TicketKeyRing& a, const TicketKeyRing& b) {
  return std::equal(a.keys.begin(), a.keys.end(), b.keys.begin(), b.keys.end(), sameKey);
}

}  // namespace tlsgate::tls
