#pragma once
// What a write_batch records (internal to state): a batch is built before
// it meets its store (and its column family handles), so the operations are
// recorded and replayed by store::write.

#include <cstddef>
#include <string>
#include <vector>

#include "state/column_families.h"
#include "state/write_batch.h"

namespace adclick::state {

struct write_batch::impl {
  struct op {
    cf_index cf;
    enum { put, merge, del, del_range } kind;  // del_range: [key, value)
    std::string key, value;
  };
  std::vector<op> ops;
  std::size_t bytes = 0;
};

}  // namespace adclick::state
