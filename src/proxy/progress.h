// Progress: what a data phase (relay, tunnel, inspect) reports after moving bytes.
#pragma once

namespace tlsgate::proxy {

enum class Progress { kWaiting, kFinished, kFailed };

}  // namespace tlsgate::proxy
