// Helpers of the sni.yaml parser's tests (sni_config*_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/sni_config.h"

namespace tlsgate::config::sni_testing {

inline const std::string kPath = "/etc/tlsgate/sni.yaml";

inline SniConfig parseOk(std::string_view text, const std::string& path = kPath) {
  auto r = parseSniConfig(text, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().toString());
  return r.ok() ? std::move(r.value()) : SniConfig{};
}

inline Error parseFail(std::string_view text, const std::string& path = kPath) {
  auto r = parseSniConfig(text, path);
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? Error{} : r.error();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One item, its keys on lines 3.. ("sni:" is line 1, "- fqdn: ..." line 2).
inline std::string item(const std::string& fqdn, const std::string& keys = "") {
  return "sni:\n  - fqdn: '" + fqdn + "'\n" + keys;
}

// A second item, b.example, on line 3, after one for a.example; its keys start on line 4.
inline std::string secondItem(const std::string& keys) {
  return "sni:\n  - fqdn: a.example\n  - fqdn: b.example\n" + keys;
}

// The match for `sni`, as the fqdn of the chosen rule ("<none>" when nothing matched).
inline std::string matchedFqdn(const SniConfig& config, std::string_view sni) {
  auto m = config.match(sni);
  return m.rule ? m.rule->fqdn : "<none>";
}

inline net::Address addr(const std::string& text) {
  return net::parseAddress(text, false).value_or(net::Address{});
}

}  // namespace tlsgate::config::sni_testing
