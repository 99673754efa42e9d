#pragma once
// The counts topic: what every aggregator of a cluster has counted, as
// absolute partial counts (partial_record.h), read by every node that
// aggregates or answers queries.
//
// counts_publisher: the shards' agg::partial_sink. A flush's partials for
// click partition p, then its mark (kind kMarkKind, value = the shard's
// watermark, version = p's offset after the flush), all go to one partition
// of the counts topic (chosen from the source's name), in order, with an
// idempotent producer and acks=all: publish() returns once every one is on
// the in-sync replicas.
//
// counts_materializer: reads every partition of the counts topic from the
// positions its state holds (meta "counts_pos/") and keeps, per source, the
// partials read since its last mark. A mark whose version is above the
// partition's offset in the state applies them in one RocksDB batch (synced):
// each partial, every touched minute's counts row set to the sum over the
// sources, the partition's offset (where an aggregator that takes the
// partition over goes on from) and the counts topic positions. A mark at or
// below that offset is a flush already applied (a replay): dropped. Sources
// whose partitions this node's own shards hold (set_owned) are skipped: the
// shards write them themselves. Partials of other sources (a front end's
// tallies, the batch layer's corrections) have no marks: each is applied
// when its version is above the one the state holds for its cell.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agg/partial_sink.h"
#include "base/mutex.h"
#include "kafka/client.h"
#include "kafka/partial_record.h"

struct rd_kafka_queue_s;

namespace adclick::state {
class store;
}

namespace adclick::kafka {

// The kind of a flush's mark (no tally kind has it).
inline constexpr std::uint8_t kMarkKind = 0xff;

struct counts_options {
  client_settings client;
  std::string topic = "adclick-counts";
  std::chrono::milliseconds publish_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds open_timeout{std::chrono::seconds(10)};
};

class counts_publisher final : public agg::partial_sink {
 public:
  [[nodiscard]] static result<std::unique_ptr<counts_publisher>> open(const counts_options& o,
                                                                      std::string& error_line);
  ~counts_publisher() override;
  counts_publisher(const counts_publisher&) = delete;
  counts_publisher& operator=(const counts_publisher&) = delete;

  std::error_code publish(const std::vector<agg::partial_count>& partials,
                          const std::vector<agg::flush_mark>& marks) override;
  std::error_code publish(const std::vector<agg::source_partial>& partials) override;

  struct batch;  // one publish() call's outstanding records

 private:
  counts_publisher(const counts_options& o, std::int32_t partitions) : options_(o), partitions_(partitions) {}
  [[nodiscard]] std::error_code produce(batch& b, const partial& p);
  // Waits for every report of `b`; `failed`: the first produce error.
  [[nodiscard]] std::error_code finish(batch& b, std::error_code failed);

  const counts_options options_;
  const std::int32_t partitions_;
  handle producer_;
  topic_handle topic_;
  base::mutex mu_;  // one publish at a time
};

struct materializer_stats {
  std::uint64_t flushes_applied = 0;
  std::uint64_t flushes_replayed = 0;  // marks at or below the state's offset
  std::uint64_t records_corrupt = 0;
  std::uint64_t records_read = 0;
};

class counts_materializer {
 public:
  // `partitions`: the click topic's (log.partitions), for set_owned.
  [[nodiscard]] static result<std::unique_ptr<counts_materializer>> open(const counts_options& o,
                                                                         state::store& store,
                                                                         agg::partials_lock& lock,
                                                                         std::uint32_t partitions,
                                                                         std::string& error_line);
  ~counts_materializer();  // stop()
  counts_materializer(const counts_materializer&) = delete;
  counts_materializer& operator=(const counts_materializer&) = delete;

  void start();
  void stop();

  // The click partitions this node's shards hold from now on.
  void set_owned(const std::vector<std::uint32_t>& partitions);
  // Waits until everything the counts topic held when called has been read
  // (and what forms whole flushes applied). False on timeout or when the
  // topic's ends cannot be learnt.
  [[nodiscard]] bool wait_caught_up(std::chrono::milliseconds timeout);

  materializer_stats stats() const;

 private:
  counts_materializer(const counts_options& o, state::store& store, agg::partials_lock& lock,
                      std::uint32_t partitions, std::int32_t counts_partitions)
      : options_(o), store_(store), lock_(lock), owned_(partitions), counts_partitions_(counts_partitions),
        next_(static_cast<std::size_t>(counts_partitions), 0) {}
  void run();
  void take(std::int32_t counts_partition, std::int64_t offset, const partial& p);
  // Other sources' partials read in one batch of records, applied together.
  void apply_loose();
  // The position stored for a counts partition: `next`, or the first record
  // of a source whose flush is still incomplete.
  std::int64_t position_to_store(std::int32_t counts_partition, std::int64_t next,
                                 const std::string& except) const;
  [[nodiscard]] std::error_code apply(std::int32_t counts_partition, std::int64_t offset, std::uint32_t partition,
                                      const partial& mark);
  bool owned(std::uint32_t partition) const;

  struct pending {
    std::int32_t counts_partition = 0;
    std::int64_t first_offset = -1;  // in its counts partition
    std::vector<partial> partials;
  };

  const counts_options options_;
  state::store& store_;
  agg::partials_lock& lock_;
  handle consumer_;
  topic_handle topic_;

 public:
  struct queue_deleter {
    void operator()(rd_kafka_queue_s* q) const noexcept;
  };

 private:
  std::unique_ptr<rd_kafka_queue_s, queue_deleter> queue_;

  mutable base::mutex owned_mu_;
  std::vector<bool> owned_ GUARDED_BY(owned_mu_);

  const std::int32_t counts_partitions_;
  // Materializer thread: per counts partition the next offset to read, per
  // source what has been read since its last mark.
  std::vector<std::int64_t> next_;
  std::map<std::string, pending> pending_;
  std::vector<partial> loose_;

  mutable base::mutex progress_mu_;
  std::condition_variable progress_cv_;
  std::vector<std::int64_t> read_through_ GUARDED_BY(progress_mu_);  // per counts partition

  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> replayed_{0};
  std::atomic<std::uint64_t> corrupt_{0};
  std::atomic<std::uint64_t> read_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace adclick::kafka
