#pragma once
// Per-ad, per-minute tallies of click outcomes that never reach the log
// (duplicate, bad_signature, expired, unrecorded), kept in memory and added to
// the RocksDB `counts` family (tally kinds) about once a second.
//
// Durability: at most once. A tally is added to RocksDB in one merge batch
// and then forgotten; a crash loses at most the last interval's tallies and
// never counts one twice. Counted clicks are not tallied here: their exact
// count comes from the log through the aggregation shards.

#include <cstdint>
#include <map>
#include <mutex>
#include <system_error>
#include <tuple>

#include "base/mutex.h"
#include "state/state_format.h"

namespace adclick::state {
class store;
}

namespace adclick::ingest {

class outcome_tallies {
 public:
  using key = std::tuple<std::uint64_t, std::int64_t, state::tally_kind>;  // ad, minute, kind
  using rows = std::map<key, std::uint64_t>;

  // Any thread.
  void add(std::uint64_t ad_id, std::int64_t event_time_ms, state::tally_kind kind);
  // Writes everything tallied so far as one batch. On error the tallies are
  // kept for the next try. One thread at a time.
  [[nodiscard]] std::error_code flush(state::store& store);
  // What is tallied so far, taken out (a cluster node publishes it as its
  // own partials), and what could not be written, put back.
  rows take();
  void put_back(const rows& r);
  std::size_t pending_rows() const;

 private:
  static constexpr std::size_t kStripes = 16;
  struct stripe {
    mutable base::mutex mu;
    std::map<key, std::uint64_t> rows GUARDED_BY(mu);
  };
  stripe stripes_[kStripes];
};

}  // namespace adclick::ingest
