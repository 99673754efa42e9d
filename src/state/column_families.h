#pragma once
// The store's column families by index, in the order they are opened
// (internal to state; their names are in state_format.h).

namespace adclick::state {

enum cf_index { kDefault = 0, kAds, kDedup, kCounts, kMeta, kReconcile, kActive, kPartials, kFamilies };

}  // namespace adclick::state
