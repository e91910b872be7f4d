// readFile: a whole file as a string, or `path: cannot read: <reason>`.
#pragma once

#include <string>

#include "core/result.h"

namespace tlsgate {

Result<std::string> readFile(const std::string& path);

}  // namespace tlsgate
