#include "app/command_line.h"

#include <string_view>

namespace tlsgate::app {

const char* const kUsage =
    "usage: tlsgate -c tlsgate.yaml [--check] [--debug-tags TAG[,TAG...]]\n"
    "       tlsgate --version | --config-keys\n"
    "\n"
    "  -c, --config FILE     the configuration (tlsgate.yaml)\n"
    "  --check               validate the configuration and every file it names, then exit\n"
    "  --debug-tags TAGS     debug lines for these tags, comma-separated; a tag also enables\n"
    "                        the tags below it ('ssl' enables 'ssl.error'). Tags:\n"
    "                          ssl        handshake steps, certificate chosen\n"
    "                          ssl.error  every failed handshake: peer address, port, reason\n"
    "                          net        accept, connect, close and why\n"
    "                          relay      plaintext relay progress\n"
    "                          inspect    the builtin:inspect endpoint\n"
    "                          hooks      plugin hooks\n"
    "                        (per-connection TLS message traces: ssl.wire_trace in the config)\n"
    "  --version             print the version and the OpenSSL in use\n"
    "  --config-keys         print every key of tlsgate.yaml and sni.yaml: type, default, help\n"
    "\n"
    "signals: SIGHUP reloads the configuration, SIGTERM drains (up to drain_timeout),\n"
    "         SIGINT stops at once, SIGUSR1 prints the counters as one JSON line,\n"
    "         SIGUSR2 reopens the access log\n";

Result<Options> parseCommandLine(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (arg == "-c" || arg == "--config") {
      if (!value(o.configPath)) return Error{"", 0, std::string(arg) + " needs a file"};
    } else if (arg == "--check") {
      o.check = true;
    } else if (arg == "--debug-tags") {
      if (!value(o.debugTags)) return Error{"", 0, "--debug-tags needs a list of tags"};
    } else if (arg == "--version" || arg == "-V") {
      o.version = true;
    } else if (arg == "--config-keys") {
      o.configKeys = true;
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else {
      return Error{"", 0, "unknown argument '" + std::string(arg) + "'"};
    }
  }
  if (!o.version && !o.help && !o.configKeys && o.configPath.empty())
    return Error{"", 0, "no configuration given (-c tlsgate.yaml)"};
  return o;
}

}  // namespace tlsgate::app
