// libFuzzer target for tls::parseTicketKeys (ATS's ticket key file: N x 48 bytes) and the
// ring it makes. A file parses exactly when its size is a positive multiple of 48; each key
// holds its 48 bytes in file order; find() returns the first key of a name; a store
// publishing the ring serves it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "fuzz_check.h"
#include "tls/ticket_key_source.h"
#include "tls/ticket_keys.h"

using tlsgate::tls::parseTicketKeys;
using tlsgate::tls::TicketKey;
using tlsgate::tls::TicketKeyStore;

namespace {

void checkKey(const TicketKey& key, const uint8_t* bytes) {
  FUZZ_CHECK(std::memcmp(key.name.data(), bytes, 16) == 0);
  FUZZ_CHECK(std::memcmp(key.hmacSecret.data(), bytes + 16, 16) == 0);
  FUZZ_CHECK(std::memcmp(key.aesKey.data(), bytes + 32, 16) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  auto ring = parseTicketKeys(std::string_view(reinterpret_cast<const char*>(data), len));
  const bool wellSized = len > 0 && len % TicketKey::kFileSize == 0;
  FUZZ_CHECK(ring.ok() == wellSized);
  if (!ring) {
    FUZZ_CHECK(!ring.error().message.empty());
    return 0;
  }
  const auto& keys = (*ring)->keys;
  FUZZ_CHECK(keys.size() == len / TicketKey::kFileSize);
  for (size_t i = 0; i < keys.size(); ++i) {
    checkKey(keys[i], data + i * TicketKey::kFileSize);
    const TicketKey* found = (*ring)->find(keys[i].name.data());
    FUZZ_CHECK(found != nullptr && found <= &keys[i]);
    FUZZ_CHECK(std::memcmp(found->name.data(), keys[i].name.data(), 16) == 0);
  }
  TicketKeyStore store(std::make_shared<tlsgate::tls::TicketKeyRing>());
  store.publish(*ring);
  FUZZ_CHECK(&store.current() == ring->get());
  FUZZ_CHECK(store.snapshot() == *ring);
  return 0;
}
