#pragma once
// The speed layer's owner: `shards` shard threads; partition p belongs to
// shard p mod shards (so a hot ad salted over consecutive... any partitions is
// spread over several shards, whose partial counts meet in RocksDB through
// the merge-add operator).

#include <cstdint>
#include <memory>
#include <vector>

#include "agg/shard.h"
#include "base/mutex.h"

namespace adclick::agg {

struct recovery_summary {
  std::uint64_t records_replayed = 0;
  std::chrono::milliseconds took{0};
};

class aggregator {
 public:
  aggregator(log::click_log& log, state::store& store, std::uint32_t shards,
             const shard_options& options, const commit_listener& on_commit);
  // Over some of the log's partitions only (a cluster node's share of them):
  // the i-th of them belongs to shard i mod shards.
  aggregator(log::click_log& log, state::store& store, std::uint32_t shards,
             const std::vector<log::partition_id>& partitions, const shard_options& options,
             const commit_listener& on_commit);
  ~aggregator();

  // Every shard replays from its committed offsets to the durable end and
  // commits. Before start().
  [[nodiscard]] result<recovery_summary> recover();
  void start();
  void stop();  // last flush of every shard

  // A cluster node's share changed: stops the shards (each after its last
  // flush), then builds new ones over `partitions`, recovers and starts
  // them. revoke() only stops them, leaving the aggregator without shards.
  [[nodiscard]] result<recovery_summary> assign(const std::vector<log::partition_id>& partitions);
  void revoke();

  std::vector<shard_status> status() const;
  // The lowest final_through_ms() over the shards: minutes before it will not
  // change in the speed layer (INT64_MIN without shards: nothing is known).
  std::int64_t final_through_ms() const;

 private:
  void build(const std::vector<log::partition_id>& partitions) REQUIRES(mu_);
  result<recovery_summary> recover_locked() REQUIRES(mu_);

  log::click_log& log_;
  state::store& store_;
  const std::uint32_t shard_count_;
  const shard_options options_;
  const commit_listener on_commit_;
  mutable base::mutex mu_;
  std::vector<std::unique_ptr<shard>> shards_ GUARDED_BY(mu_);
};

}  // namespace adclick::agg
