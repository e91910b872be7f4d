#include "core/log.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <vector>

#include "core/text.h"

namespace tlsgate::log {

namespace {

std::vector<DebugTag*>& registry() {
  static std::vector<DebugTag*> tags;
  return tags;
}

// A byte that would break the line or drive a terminal: \xNN. Backslashes are left alone,
// so that what escaped() wrote reads the same; this is the net under every call site, for
// the text a call site did not think of as a peer's.
bool isControl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// One line per write(2) so lines from several threads never interleave.
void emit(const char* prefix, const char* fmt, va_list ap) {
  char text[8192];  // the SIGUSR1 stats line is the longest: about 4 KiB
  int n = std::vsnprintf(text, sizeof text, fmt, ap);
  if (n < 0) return;
  std::string_view message(text, std::min(sizeof text - 1, static_cast<size_t>(n)));
  std::string line = prefix;
  line.reserve(line.size() + message.size() + 1);
  for (unsigned char c : message) {
    if (isControl(c))
      line += escaped(std::string_view(reinterpret_cast<const char*>(&c), 1));
    else
      line += static_cast<char>(c);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

bool matches(std::string_view pattern, std::string_view tag) {
  if (pattern == tag) return true;
  return tag.size() > pattern.size() && tag.substr(0, pattern.size()) == pattern &&
         tag[pattern.size()] == '.';
}

}  // namespace

DebugTag::DebugTag(const char* name) : name_(name) {
  registry().push_back(this);
}

void setDebugTags(std::string_view csv) {
  for (DebugTag* tag : registry()) {
    bool on = false;
    std::string_view rest = csv;
    while (!rest.empty() && !on) {
      auto comma = rest.find(',');
      std::string_view pattern = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      on = !pattern.empty() && matches(pattern, tag->name_);
    }
    tag->on_.store(on, std::memory_order_relaxed);
  }
}

std::vector<std::string> debugTagNames(bool enabledOnly) {
  std::vector<std::string> names;
  for (const DebugTag* tag : registry())
    if (!enabledOnly || tag->on()) names.emplace_back(tag->name());
  return names;
}

void debug(const DebugTag& tag, const char* fmt, ...) {
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "[%s] ", tag.name());
  va_list ap;
  va_start(ap, fmt);
  emit(prefix, fmt, ap);
  va_end(ap);
}

#define TG_LOG_LEVEL(fn, prefix)  \
  void fn(const char* fmt, ...) { \
    va_list ap;                   \
    va_start(ap, fmt);            \
    emit(prefix, fmt, ap);        \
    va_end(ap);                   \
  }
TG_LOG_LEVEL(info, "tlsgate: ")
TG_LOG_LEVEL(warning, "tlsgate: warning: ")
TG_LOG_LEVEL(error, "tlsgate: error: ")
#undef TG_LOG_LEVEL

DebugTag kSsl("ssl");
DebugTag kSslError("ssl.error");
DebugTag kNet("net");
DebugTag kRelay("relay");
DebugTag kInspect("inspect");

std::string escaped(std::string_view text) {
  return escapeBytes(text);
}

}  // namespace tlsgate::log
