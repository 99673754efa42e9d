#pragma once
// Writes one source's partials on a node of a cluster (log.backend =
// "kafka"): a front end's outcome tallies and the batch layer's corrections.
// Under the partials lock, each cell's new absolute value is computed from
// what the state holds, published (partial_sink), then committed with the
// minute's counts row set to the sum over every source, in one synced batch.
// A publish that fails writes nothing; a commit that fails after a publish
// is safe to retry (the values are absolute; the retry's version is higher).

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "agg/partial_sink.h"

namespace adclick::state {
class store;
}

namespace adclick::agg {

struct source_cell {
  std::uint64_t ad_id = 0;
  std::int64_t minute = 0;
  state::tally_kind kind = state::tally_kind::clicks;
  std::uint64_t arg = 0;  // see cell_rule
};

enum class cell_rule {
  add,        // the source's value grows by arg (tallies)
  set_total,  // the source's value makes the minute's sum arg (corrections)
};

[[nodiscard]] std::error_code write_source(state::store& store, partials_lock& lock, partial_sink& sink,
                                           const std::string& source, std::uint64_t version,
                                           const std::vector<source_cell>& cells, cell_rule rule);

}  // namespace adclick::agg
