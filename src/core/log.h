// Logging: always-on lines (info, warning, error) and debug lines switched on by tag.
//
// Debug tags work as in ATS: `--debug-tags ssl,ssl.error`. A pattern enables the tag of the
// same name and every tag below it ("ssl" enables "ssl.error"). Each tag is a DebugTag object
// whose on() is one relaxed load, so a disabled debug line costs a branch, nothing more.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

namespace tlsgate::log {

class DebugTag {
 public:
  explicit DebugTag(const char* name);
  DebugTag(const DebugTag&) = delete;
  DebugTag& operator=(const DebugTag&) = delete;

  bool on() const { return on_.load(std::memory_order_relaxed); }
  const char* name() const { return name_; }

 private:
  friend void setDebugTags(std::string_view csv);
  const char* name_;
  std::atomic<bool> on_{false};
};

// Enables exactly the tags matched by the comma-separated patterns (empty = none).
void setDebugTags(std::string_view csv);
// Every tag, and those switched on now (for the admin endpoint's /debug).
std::vector<std::string> debugTagNames(bool enabledOnly);

// `text` as a log line may show it: core/text.h's escapeBytes (printable ASCII as is,
// every other byte as \xNN). Whatever a peer sent (a server name, a PROXY header) goes
// through it, so that it cannot forge a line.
// Under it, every line is written as one line: a control byte that reaches it unescaped
// (CR, LF, ESC...) is written as \xNN too.
std::string escaped(std::string_view text);

void debug(const DebugTag& tag, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// The tags used across the code base.
extern DebugTag kSsl;       // handshake progress, certificate selection
extern DebugTag kSslError;  // every failed handshake, with peer address and reason
extern DebugTag kNet;       // accept, connect, close
extern DebugTag kRelay;     // plaintext relay progress
extern DebugTag kInspect;   // built-in inspect endpoint

}  // namespace tlsgate::log

// Formats only when the tag is on.
#define TG_DEBUG(tag, ...)                                     \
  do {                                                         \
    if ((tag).on()) ::tlsgate::log::debug((tag), __VA_ARGS__); \
  } while (0)
