// Ticket key schedule: the fleet's shared key ring (as stored in Redis) and the pure rules
// that decide which key encrypts, when the next key is created and when an old one goes.
// No I/O and no clock here: every function takes "now" (unix ms), so the rules are tested
// directly; ticket_key_redis.cc drives them.
//
// A shared ring is a list of keys, each with the time it starts encrypting (its
// activation), sorted by activation:
//
//     k1 (act 10:00)   k2 (act 11:00)   k3 (act 12:00)        now = 11:59:50
//     superseded       encrypting       pending
//
// * The encrypting key is the newest whose activation has passed (k2).
// * A pending key (k3) is written `lead` before it activates, so every instance has read it
//   (and decrypts with it) before any instance encrypts with it: clocks may differ a little,
//   polls happen at different moments, but no ticket is ever sealed with a key another
//   instance has not seen yet.
// * A superseded key (k1) stays for decryption until rotation + ticket lifetime after its
//   successor activated, then it is pruned.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tls/ticket_keys.h"

namespace tlsgate::tls {

struct ScheduledKey {
  TicketKey key;
  int64_t activationMs = 0;  // unix time from which the key encrypts
};

// Sorted by activation (ascending); names are unique.
using SharedRing = std::vector<ScheduledKey>;

struct KeySchedule {
  int64_t rotationMs = 3'600'000;  // how long each key encrypts
  int64_t lifetimeMs = 300'000;    // how long a ticket is accepted (session timeout)
  int64_t leadMs = 3'000;          // how long before its activation the next key is written

  // A superseded key is kept this long after its successor activated.
  int64_t retentionMs() const { return rotationMs + lifetimeMs; }
};

// The value of <prefix>ring in Redis. Binary, so that it is read and written whole (one GET,
// one SET: atomic):
//
//     "STEK"  u8 format (1)  u8 entry size (>= 56)  u16 count (big endian)
//     count × entry: i64 activation ms (big endian), 48 bytes of key (name, HMAC, AES)
//
// An instance of a later version may write a larger entry size (fields appended after the
// first 56 bytes) or a higher format number that keeps this layout; older instances read
// the first 56 bytes of each entry. A value that does not parse is refused as a whole.
std::string encodeSharedRing(const SharedRing& ring);
Result<SharedRing> decodeSharedRing(std::string_view bytes);

// The ring without keys superseded longer than the retention before `nowMs`. The
// encrypting key and pending keys are never pruned.
SharedRing pruneSharedRing(SharedRing ring, int64_t nowMs, const KeySchedule& schedule);

// When the writer must add the next key now: its activation time (at least `lead` from
// now, and one rotation after the newest key). Empty when a pending key exists or it is
// not time yet.
std::optional<int64_t> nextKeyActivation(const SharedRing& ring, int64_t nowMs,
                                         const KeySchedule& schedule);

// The first activation strictly after `nowMs`: when the encrypting key changes next.
std::optional<int64_t> nextActivationAfter(const SharedRing& ring, int64_t nowMs);

// The ring the workers use: keys[0] the encrypting key (the newest activated one; the
// oldest key when none has activated yet), then pending keys (oldest first), then
// superseded ones (newest first), then `decryptOnly`: keys this instance still holds that
// are no longer in the shared ring (tickets it issued with them are still accepted).
TicketKeyRing workingRing(const SharedRing& ring, int64_t nowMs,
                          const std::vector<TicketKey>& decryptOnly);

bool sameKey(const TicketKey& a, const TicketKey& b);
bool sameRing(const SharedRing& a, const SharedRing& b);
bool sameKeys(const TicketKeyRing& a, const TicketKeyRing& b);

}  // namespace tlsgate::tls
