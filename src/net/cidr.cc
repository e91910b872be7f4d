#include "net/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "core/text.h"

namespace tlsgate::net {

namespace {

using Key = std::array<uint8_t, 16>;

constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool isMapped(const uint8_t* bytes) {
  return std::memcmp(bytes, kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

Key mappedKey(const uint8_t* v4) {
  Key key{};
  std::memcpy(key.data(), kMappedPrefix.data(), kMappedPrefix.size());
  std::memcpy(key.data() + 12, v4, 4);
  return key;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Parsed {
  Key key;
  bool v4 = false;         // an IPv4 address, written as such or IPv4-mapped
  bool writtenV4 = false;  // written in dotted IPv4 form (prefix lengths count 0..32)
};

std::optional<Parsed> parseIp(std::string_view text) {
  const std::string s(text);  // inet_pton wants a terminated string
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return Parsed{mappedKey(buf), true, true};
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    Parsed p;
    std::memcpy(p.key.data(), buf, 16);
    p.v4 = isMapped(buf);
    return p;
  }
  return {};
}

// Sets (or clears) every bit of `key` after the first `prefix` bits.
Key withHostBits(Key key, unsigned prefix, bool set) {
  for (unsigned bit = prefix; bit < 128; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if (set)
      key[bit / 8] |= mask;
    else
      key[bit / 8] &= static_cast<uint8_t>(~mask);
  }
  return key;
}

}  // namespace

Status CidrSet::add(std::string_view text) {
  const auto entry = trim(text);
  auto fail = [&](const std::string& why) {
    return Error{"", 0, concat({"'", entry, "': ", why})};
  };
  if (entry.empty()) return Error{"", 0, "empty address entry"};
  auto notAddress = [&](std::string_view part) {
    return fail(concat({part == entry ? std::string("not") : concat({"'", part, "' is not"}),
                        " an IPv4 or IPv6 address"}));
  };

  Range range;
  bool v4 = false;
  if (const auto slash = entry.find('/'); slash != std::string_view::npos) {
    const auto address = entry.substr(0, slash);
    const auto prefixText = entry.substr(slash + 1);
    const auto parsed = parseIp(address);
    if (!parsed) return notAddress(address);
    const unsigned maxPrefix = parsed->writtenV4 ? 32 : 128;
    unsigned prefix = 0;
    const auto [end, ec] =
        std::from_chars(prefixText.data(), prefixText.data() + prefixText.size(), prefix);
    if (prefixText.empty() || ec != std::errc() || end != prefixText.data() + prefixText.size() ||
        prefix > maxPrefix) {
      return fail("prefix length must be 0.." + std::to_string(maxPrefix));
    }
    if (parsed->writtenV4) prefix += 96;  // the key is the ::ffff:a.b.c.d form
    // An IPv4-mapped address with a prefix shorter than /96 reaches outside the mapped block:
    // it is an IPv6 range.
    v4 = parsed->v4 && prefix >= 96;
    range = {withHostBits(parsed->key, prefix, false), withHostBits(parsed->key, prefix, true)};
  } else if (const auto dash = entry.find('-'); dash != std::string_view::npos) {
    const auto lo = trim(entry.substr(0, dash));
    const auto hi = trim(entry.substr(dash + 1));
    const auto first = parseIp(lo);
    if (!first) return notAddress(lo);
    const auto last = parseIp(hi);
    if (!last) return notAddress(hi);
    if (first->v4 != last->v4) return fail("a range cannot mix IPv4 and IPv6 addresses");
    if (last->key < first->key) return fail("the range ends before it starts");
    range = {first->key, last->key};
    v4 = first->v4;
  } else {
    const auto parsed = parseIp(entry);
    if (!parsed) return notAddress(entry);
    range = {parsed->key, parsed->key};
    v4 = parsed->v4;
  }
  insert(v4 ? v4_ : v6_, range);
  ++entries_;
  return Ok{};
}

bool CidrSet::contains(const Address& a) const {
  const auto bytes = a.ipBytes();
  const auto* raw = reinterpret_cast<const uint8_t*>(bytes.data());
  if (a.family() == AF_INET && bytes.size() == 4) return find(v4_, mappedKey(raw));
  if (a.family() != AF_INET6 || bytes.size() != 16) return false;
  Key key;
  std::memcpy(key.data(), raw, 16);
  return find(isMapped(raw) ? v4_ : v6_, key);
}

// Keeps `ranges` sorted and disjoint, so that find() can search it.
void CidrSet::insert(std::vector<Range>& ranges, Range range) {
  auto byFirst = [](const Range& r, const Key& k) { return r.first < k; };
  auto it = std::lower_bound(ranges.begin(), ranges.end(), range.first, byFirst);
  if (it != ranges.begin() && std::prev(it)->last >= range.first) {
    --it;  // overlaps the previous range: grow that one
    it->last = std::max(it->last, range.last);
  } else {
    it = ranges.insert(it, range);
  }
  auto next = std::next(it);
  while (next != ranges.end() && next->first <= it->last) {
    it->last = std::max(it->last, next->last);
    next = ranges.erase(next);
    it = std::prev(next);
  }
}

bool CidrSet::find(const std::vector<Range>& ranges, const Key& key) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), key,
                             [](const Key& k, const Range& r) { return k < r.first; });
  if (it == ranges.begin()) return false;
  return key <= std::prev(it)->last;
}

}  // namespace tlsgate::net
