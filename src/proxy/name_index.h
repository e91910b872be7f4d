// NameIndex: the server-name patterns of sni.yaml, indexed for lookup (ATS's fqdn rules).
//
// Patterns, in file order:
//   "a.example.com"  that name, whatever its case;
//   "*.example.com"  a name of exactly one more label ("a.example.com", not "example.com" nor
//                    "a.b.example.com"); captures that label, lowercased, as $1;
//   "*"              any name and no name; captures the whole name as $1;
//   ""               a connection without SNI.
// match() returns the first pattern in file order that applies. It looks up hash maps,
// never scans, and allocates only the capture.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tlsgate::proxy {

struct NameMatch {
  size_t index = 0;                   // of the pattern
  std::vector<std::string> captures;  // $1 is captures[0]
};

class NameIndex {
 public:
  NameIndex() = default;
  // `patterns` lowercase, in file order.
  explicit NameIndex(const std::vector<std::string_view>& patterns);

  std::optional<NameMatch> match(std::string_view sni) const;

  // For each pattern, the earlier one that wins for every name it matches, if any (a
  // repeated fqdn, a name after its wildcard, anything after "*"): legal, but never used.
  const std::vector<std::optional<size_t>>& shadowedBy() const { return shadowedBy_; }

 private:
  // ASCII case-insensitive hashing and comparison, usable with a string_view key.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const;
  };
  struct NameEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  using Map = std::unordered_map<std::string, size_t, NameHash, NameEqual>;

  Map exact_;                       // "a.example.com" -> lowest index
  Map wildcard_;                    // "example.com" (from "*.example.com") -> lowest index
  std::optional<size_t> catchAll_;  // the first "*"
  std::optional<size_t> noSni_;     // the first ""
  std::vector<std::optional<size_t>> shadowedBy_;
};

}  // namespace tlsgate::proxy
