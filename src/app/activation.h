// Activation: what a built snapshot needs before it serves, beyond its data — the side
// effects that building (and --check) never makes: looking up the names of fixed upstreams,
// opening the key log, and starting (or carrying over) what keeps the session ticket keys
// fresh (the rotation thread, the Redis sync). The gateway activates the first snapshot at
// start and each new one on the reload thread before it swaps it in; a failure leaves the
// running snapshot as it was.
#pragma once

#include "config/snapshot.h"
#include "core/result.h"

namespace tlsgate::app {

// `previous`: the snapshot being replaced (null at start), whose ticket thread carries on
// when next's plan says so. Errors name the file and line at fault.
Status activate(config::Snapshot& next, const config::Snapshot* previous);

}  // namespace tlsgate::app
