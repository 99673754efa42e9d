#pragma once
// A RocksDB status as a state_errc (internal to state).

#include <rocksdb/status.h>

#include "state/state_errc.h"

namespace adclick::state {

// Corruption -> corrupt, IOError -> io, anything else -> failed.
std::error_code to_error(const rocksdb::Status& s);

}  // namespace adclick::state
