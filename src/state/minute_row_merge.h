#pragma once
// The counts family's merge operator (internal to state).

#include <memory>

#include <rocksdb/merge_operator.h>

namespace adclick::state {

// Merges minute rows (state_format.h): slot-wise add, or overwrite for the
// slots an operand sets. Associative, so RocksDB may combine operands early.
// Its Name() is stored in the database's options: never change it.
std::shared_ptr<rocksdb::MergeOperator> make_minute_row_merge();

}  // namespace adclick::state
