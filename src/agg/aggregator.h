#pragma once
// The speed layer's owner: `shards` shard threads; partition p belongs to
// shard p mod shards (so a hot ad salted over consecutive... any partitions is
// spread over several shards, whose partial counts meet in RocksDB through
// the merge-add operator).

#include <cstdint>
#include <memory>
#include <vector>

#include "agg/shard.h"

namespace adclick::agg {

struct recovery_summary {
  std::uint64_t records_replayed = 0;
  std::chrono::milliseconds took{0};
};

class aggregator {
 public:
  aggregator(log::click_log& log, state::store& store, std::uint32_t shards,
             const shard_options& options, const commit_listener& on_commit);
  ~aggregator();

  // Every shard replays from its committed offsets to the durable end and
  // commits. Before start().
  [[nodiscard]] result<recovery_summary> recover();
  void start();
  void stop();  // last flush of every shard

  std::vector<shard_status> status() const;
  // The lowest final_through_ms() over the shards: minutes before it will not
  // change in the speed layer.
  std::int64_t final_through_ms() const;
  std::uint32_t shard_of(log::partition_id p) const { return p % static_cast<std::uint32_t>(shards_.size()); }

 private:
  std::vector<std::unique_ptr<shard>> shards_;
};

}  // namespace adclick::agg
