// What every configuration parser promises, whatever the text: it returns (no exception,
// no crash), and an error names the file it was given and a line of the text (or 0, the
// file as a whole), and says what is wrong (README: every config error names file:line).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "core/result.h"
#include "fuzz_check.h"

namespace tlsgate::fuzz {

inline int lineCount(std::string_view text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
}

inline void checkError(const Error& error, std::string_view text, const std::string& path) {
  FUZZ_CHECK(error.file == path);
  FUZZ_CHECK(error.line >= 0);
  FUZZ_CHECK(error.line <= lineCount(text));
  FUZZ_CHECK(!error.message.empty());
  FUZZ_CHECK(!error.toString().empty());
}

}  // namespace tlsgate::fuzz
