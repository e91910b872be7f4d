// The command line: tlsgate -c FILE [--check] [--debug-tags TAGS] | --version | --help |
// --config-keys
#pragma once

#include <string>

#include "core/result.h"

namespace tlsgate::app {

struct Options {
  std::string configPath;
  std::string debugTags;
  bool check = false;
  bool version = false;
  bool help = false;
  bool configKeys = false;  // print the key reference (config/schema.h)
};

Result<Options> parseCommandLine(int argc, char** argv);
extern const char* const kUsage;

}  // namespace tlsgate::app
