// CidrSet: a set of IP address ranges, for client allow-lists (sni.yaml's ip_allow).
//
// Entries, one per add():
//   10.0.0.0/8   2001:db8::/32      a prefix; host bits after the prefix are ignored
//                                   ("10.1.2.3/8" is 10.0.0.0/8), as ATS does
//   1.2.3.4      ::1                a single address
//   1.2.3.4-1.2.3.9                 an inclusive range (ATS style); both ends of one family
//
// IPv4 and IPv6 are separate spaces: 0.0.0.0/0 is every IPv4 client and ::/0 every IPv6
// client. An IPv4-mapped IPv6 address (::ffff:1.2.3.4, what a dual-stack socket reports for
// an IPv4 client) is an IPv4 address, both as an entry and as a client: it matches the IPv4
// ranges and only them.
//
// contains() is a binary search over sorted, merged ranges: no allocation, O(log n).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/address.h"

namespace tlsgate::net {

class CidrSet {
 public:
  // add parses one entry and adds it. On error the set is unchanged and the message says
  // what is wrong, quoting the entry ("'10.0.0.0/33': prefix length must be 0..32").
  Status add(std::string_view text);

  // contains says whether the address (its port ignored) is in one of the ranges.
  bool contains(const Address& a) const;

  bool empty() const { return entries_ == 0; }
  // size is the number of entries added (not the number of ranges after merging).
  size_t size() const { return entries_; }

 private:
  // Addresses as 16 big-endian bytes; IPv4 ones in their ::ffff:a.b.c.d form.
  using Key = std::array<uint8_t, 16>;
  struct Range {
    Key first;
    Key last;  // inclusive
  };

  static void insert(std::vector<Range>& ranges, Range range);
  static bool find(const std::vector<Range>& ranges, const Key& key);

  std::vector<Range> v4_;  // sorted by first, disjoint
  std::vector<Range> v6_;  // sorted by first, disjoint
  size_t entries_ = 0;
};

}  // namespace tlsgate::net
