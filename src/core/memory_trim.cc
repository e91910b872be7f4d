#include "core/memory_trim.h"

#include <malloc.h>

namespace tlsgate {

void MemoryTrim::trim(size_t live) {
  ::malloc_trim(0);
  peak_ = live;
}

}  // namespace tlsgate
