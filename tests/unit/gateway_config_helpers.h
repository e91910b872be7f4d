// Helpers of the tlsgate.yaml parser's tests (gateway_config*_test.cc): texts built around
// the smallest valid file, and checks of an error's file, line and message.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/gateway_config.h"

namespace tlsgate::config::yaml_testing {

inline const std::string kPath = "/etc/tlsgate/tlsgate.yaml";

// The smallest valid file; tests append to or replace parts of it.
inline const std::string kMinimal =
    "listeners:\n"
    "  - listen: 127.0.0.1:8443\n"
    "ssl:\n"
    "  multicert: ssl_multicert.config\n"
    "routes:\n"
    "  default: builtin:inspect\n";

inline GatewayConfig parseOk(std::string_view text, const std::string& path = kPath) {
  auto r = parseGatewayConfig(text, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().toString());
  return r.ok() ? r.value() : GatewayConfig{};
}

inline Error parseFail(std::string_view text, const std::string& path = kPath) {
  auto r = parseGatewayConfig(text, path);
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? Error{} : r.error();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// kMinimal with `lines` added to the ssl mapping: the first added line is line 5.
inline std::string withSsl(const std::string& lines) {
  return "listeners:\n"
         "  - listen: 127.0.0.1:8443\n"
         "ssl:\n"
         "  multicert: ssl_multicert.config\n" +
         lines +
         "routes:\n"
         "  default: builtin:inspect\n";
}

// kMinimal with another default route, on line 6.
inline std::string withRoute(const std::string& route) {
  return "listeners:\n"
         "  - listen: 127.0.0.1:8443\n"
         "ssl:\n"
         "  multicert: ssl_multicert.config\n"
         "routes:\n"
         "  default: " +
         route + "\n";
}

// kMinimal with other listeners, starting on line 2.
inline std::string withListeners(const std::string& lines) {
  return "listeners:\n" + lines +
         "ssl:\n"
         "  multicert: ssl_multicert.config\n"
         "routes:\n"
         "  default: builtin:inspect\n";
}

// kMinimal with an ssl.client mapping: "client:" is line 5, the first of `lines` line 6.
inline std::string withClient(const std::string& lines) {
  return withSsl("  client:\n" + lines);
}

// kMinimal with `lines` as the routes mapping: the first of them is line 6.
inline std::string withRoutes(const std::string& lines) {
  return "listeners:\n"
         "  - listen: 127.0.0.1:8443\n"
         "ssl:\n"
         "  multicert: ssl_multicert.config\n"
         "routes:\n" +
         lines;
}

// `text` fails at exactly `line` with exactly `message`, naming kPath.
inline void expectError(const std::string& text, int line, const std::string& message) {
  auto err = parseFail(text);
  EXPECT_EQ(err.file, kPath) << text;
  EXPECT_EQ(err.line, line) << text << "\n" << err.toString();
  EXPECT_EQ(err.message, message) << text;
}

inline unsigned autoThreads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace tlsgate::config::yaml_testing
