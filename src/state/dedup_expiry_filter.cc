#include "state/dedup_expiry_filter.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "base/event_clock.h"

namespace adclick::state {
namespace {

// It reads the event clock, as signature checks do.
class expiry_filter final : public rocksdb::CompactionFilter {
 public:
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    if (value.size() != 8) return false;  // not ours to judge: keep it
    std::int64_t expires_at_s = 0;
    std::memcpy(&expires_at_s, value.data(), 8);
    // The clock that decides `expired` at the click path: a wall clock
    // stepped forward must not drop keys that clicks still count as valid.
    return expires_at_s < base::event_now_ms() / 1000;
  }
  // Stable: recorded in the database's options.
  const char* Name() const override { return "adclick.dedup_expiry"; }
};

}  // namespace

const rocksdb::CompactionFilter* dedup_expiry_filter() {
  static const expiry_filter filter;
  return &filter;
}

}  // namespace adclick::state
