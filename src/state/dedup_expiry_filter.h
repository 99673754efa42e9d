#pragma once
// The dedup family's compaction filter (internal to state).

#include <rocksdb/compaction_filter.h>

namespace adclick::state {

// Drops dedup keys whose click has expired: no click is accepted after its
// expiry, so such a key can never catch a duplicate again. This is what
// keeps the dedup state bounded by the validity window, not by history.
// One instance for the process, outliving every database; stateless and
// thread-safe.
const rocksdb::CompactionFilter* dedup_expiry_filter();

}  // namespace adclick::state
