#include "state/minute_row_merge.h"

#include <string>
#include <string_view>

#include "state/state_format.h"

namespace adclick::state {
namespace {

class minute_row_operator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    minute_row into;
    minute_row later;
    // A corrupt row or operand: returning false makes RocksDB report
    // corruption for the key, rather than count from damaged bytes.
    if (!decode_minute_row(std::string_view(value.data(), value.size()), later)) return false;
    if (existing != nullptr &&
        !decode_minute_row(std::string_view(existing->data(), existing->size()), into)) {
      return false;
    }
    merge_minute_rows(into, later);
    *new_value = encode_minute_row(into);
    return true;
  }
  // Stable: stored in the database's options; never change it.
  const char* Name() const override { return "adclick.minute_rows"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> make_minute_row_merge() { return std::make_shared<minute_row_operator>(); }

}  // namespace adclick::state
