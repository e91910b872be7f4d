#include "tls/ossl.h"

namespace tlsgate::ossl {

std::string drainErrors() {
  std::string out;
  const char* file = nullptr;
  int line = 0;
  unsigned long code;
  while ((code = ERR_get_error_all(&file, &line, nullptr, nullptr, nullptr)) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace tlsgate::ossl
