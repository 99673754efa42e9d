#pragma once
// One aggregation shard: a thread that tails its log partitions from its
// committed offsets, counts clicks in 1-minute event-time windows per
// (adId, minute), and every flush_interval commits ONE RocksDB WriteBatch
// holding the counter deltas, the late tallies, the dedup keys of the clicks
// it applied, its new log offsets and its watermark. Because offsets and
// effects commit atomically, a restart replays exactly what was not
// committed: every logged click is counted once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adclick/click_log.h"
#include "adclick/result.h"
#include "agg/partial_sink.h"
#include "base/mutex.h"
#include "state/write_batch.h"

namespace adclick::state {
class store;
}

namespace adclick::agg {

struct shard_options {
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds allowed_lateness{60000};
  std::chrono::milliseconds max_out_of_orderness{5000};
  // Event time now, Unix ms: the click path's clock (base::event_now_ms,
  // safe against wall-clock steps) unless a test injects one.
  std::function<std::int64_t()> now_ms;
  // A node of a cluster (log.backend = "kafka") sets both: the shard then
  // decides duplicates itself (copies of an impression from several front
  // ends meet only in its partition), keeps an absolute partial per
  // (partition, adId, minute, kind) in the partials family, writes the
  // minute's counts row as the sum over every source's partial, and
  // publishes each flush to `sink` before committing it. Null: one node on
  // the embedded log, where the front end decides duplicates.
  partial_sink* sink = nullptr;
  partials_lock* partials = nullptr;
  // Cluster: how long a click's dedup key can matter (signing.max_validity
  // plus the clocks' skew): a partition whose dedup keys this node lacks
  // gets them back from the records of this last stretch.
  std::chrono::milliseconds dedup_window{std::chrono::hours(1)};
};

// Called on the shard thread after each commit, for every partition of the
// shard, with the offset below which everything is now in RocksDB.
using commit_listener = std::function<void(log::partition_id, log::offset_t end)>;

struct partition_status {
  log::partition_id partition = 0;
  log::offset_t committed = 0;    // next offset to apply after a restart
  log::offset_t position = 0;     // next offset to read
  log::offset_t durable_end = 0;  // the log's durable end
};

struct shard_status {
  std::uint32_t shard = 0;
  std::int64_t watermark_ms = 0;
  std::uint64_t records_applied = 0;
  std::uint64_t late_records = 0;
  std::uint64_t commits = 0;
  std::uint64_t commit_failures = 0;
  std::uint64_t commit_ns = 0;       // time spent committing to RocksDB
  std::uint64_t commit_bytes = 0;    // bytes of the committed batches (before RocksDB)
  std::uint64_t duplicates = 0;      // cluster: records dropped as copies of a counted click
  std::vector<partition_status> partitions;
};

class shard {
 public:
  shard(std::uint32_t id, std::vector<log::partition_id> partitions, log::click_log& log,
        state::store& store, shard_options options, commit_listener on_commit);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  // Loads committed offsets and watermark, then replays every partition to
  // its durable end and commits. Call before start(), on the calling thread.
  // Returns the number of records replayed.
  [[nodiscard]] result<std::uint64_t> recover();

  void start();
  // Stops the thread after a last flush. Idempotent.
  void stop();

  shard_status status() const;
  // The lowest event time this shard may still change: watermark minus
  // allowed lateness. Any thread.
  std::int64_t final_through_ms() const;

 private:
  struct window_key {
    std::uint64_t ad_id;
    std::int64_t minute;
    std::uint32_t slot;  // cluster: the partition's index in partitions_; else 0
    bool operator==(const window_key&) const = default;
  };
  struct window_hash {
    std::size_t operator()(const window_key& k) const noexcept {
      return std::hash<std::uint64_t>()((k.ad_id + k.slot) * 0x9E3779B97F4A7C15ull ^
                                        static_cast<std::uint64_t>(k.minute));
    }
  };
  // A click's dedup key, to be committed; its impression id is in
  // dedup_bytes_ (no allocation per click).
  struct dedup_entry {
    std::uint64_t ad_id;
    // The impression id's first 8 bytes, big-endian, zero-padded: orders
    // most pairs of keys without reading their bytes.
    std::uint64_t prefix;
    std::int64_t expires_at_s;
    std::uint32_t impression_at;  // in dedup_bytes_
    std::uint32_t impression_size;
  };

  void run();
  // Reads what is durable; returns the records read.
  [[nodiscard]] result<std::size_t> poll(std::size_t max_per_partition);
  void apply(const click_view& v, std::uint32_t slot);
  // Keeps the click's dedup key for the next commit.
  void keep_dedup_key(const click_view& v);
  std::string_view impression(const dedup_entry& e) const {
    return {dedup_bytes_.data() + e.impression_at, e.impression_size};
  }
  // Adds the kept dedup keys to b in key order: RocksDB's memtable inserts a
  // sorted run far faster than random keys (it reuses its skiplist position).
  void add_dedup_keys(state::write_batch& b);
  // Cluster: whether the click is a copy of one already counted (extending
  // that key's life when this copy was signed to live longer). Sets
  // dedup_failed_ when the dedup family cannot be read. `key`: its
  // dedup_key bytes, kept by apply() for a click that is not a copy.
  bool duplicate(const click_view& v, std::uint32_t slot, std::string& key);
  // Cluster: the dedup keys of every partition this node lacks, from the
  // records of the last dedup_window before its committed offset.
  [[nodiscard]] std::error_code restore_dedup();
  // Cluster: publishes, then commits, under the partials lock.
  [[nodiscard]] std::error_code flush_cluster(const std::vector<log::offset_t>& positions, std::int64_t wm);
  // Cluster: forgets what was read since the last commit and reads it again
  // from the offsets the state holds now.
  [[nodiscard]] std::error_code reread_from_state();
  [[nodiscard]] std::error_code flush();
  // Whether the state holds exactly these offsets for the shard's partitions.
  [[nodiscard]] result<bool> offsets_stored(const std::vector<log::offset_t>& positions);
  // The batch of one commit: counts, hour index, dedup keys, offsets and
  // watermark, keys sorted.
  state::write_batch commit_batch(const std::vector<log::offset_t>& positions, std::int64_t wm);
  // After a commit that landed: what it held is dropped, its offsets are the
  // committed ones.
  void mark_committed(const std::vector<log::offset_t>& positions, std::int64_t wm);
  // The status the API reads, and the commit listener.
  void publish(const std::vector<log::offset_t>& positions);
  void advance_idle_watermark();

  // Constant after construction.
  const std::uint32_t id_;
  const std::vector<log::partition_id> partitions_;
  log::click_log& log_;
  state::store& store_;
  const shard_options options_;
  const commit_listener on_commit_;

  // Owned by the shard thread (by recover() before start()).
  std::vector<std::unique_ptr<log::partition_reader>> readers_;
  std::vector<log::offset_t> committed_;
  std::unordered_map<window_key, std::uint64_t, window_hash> deltas_;
  std::unordered_map<window_key, std::uint64_t, window_hash> late_;
  std::unordered_map<window_key, std::uint64_t, window_hash> duplicates_seen_;  // cluster: tallied `duplicate`
  std::vector<std::pair<window_key, std::uint64_t>> rows_;      // deltas_ in key order; reused
  std::vector<std::pair<std::int64_t, std::uint64_t>> active_;  // (hour, ad) of a flush; reused
  std::vector<dedup_entry> dedup_;                              // in the order read
  std::string dedup_bytes_;                // the impression ids of dedup_, back to back
  std::vector<dedup_entry> dedup_sorted_;  // dedup_ in key order, for a commit; reused
  // Cluster: the keys read since the last commit (dedup_key bytes -> index in dedup_).
  std::unordered_map<std::string, std::size_t> pending_keys_;
  bool dedup_failed_ = false;
  std::int64_t max_event_ms_ = INT64_MIN;
  bool caught_up_ = false;  // recovery done: the clock may advance the watermark
  bool commit_failing_ = false;  // shard thread: the last flush failed; read nothing until one succeeds
  bool write_failed_ = false;    // shard thread: the last store write of a batch reported a failure
  std::int64_t committed_watermark_ = INT64_MIN;

  // Published for other threads.
  std::atomic<std::int64_t> watermark_ms_{INT64_MIN};
  std::atomic<std::uint64_t> records_applied_{0};
  std::atomic<std::uint64_t> late_records_{0};
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> commit_failures_{0};
  std::atomic<std::uint64_t> commit_ns_{0};
  std::atomic<std::uint64_t> commit_bytes_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  mutable base::mutex status_mu_;
  std::vector<partition_status> published_ GUARDED_BY(status_mu_);

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace adclick::agg
