#pragma once
// The click log on a Kafka topic: log partitions are the topic's partitions,
// offsets are Kafka offsets.
//
// Durable, here, means on the partition's in-sync replicas: appends are
// produced with enable.idempotence=true and acks=all, and an append's
// handler runs with its offset once the delivery report says so (the record
// is then below the partition's high watermark and survives the loss of any
// broker but the last in-sync one). A record that is not delivered within
// append_timeout fails as log_errc::timed_out (librdkafka's
// message.timeout.ms is the same, and adclick's own deadline holds even
// when librdkafka's report comes later), a full producer queue as
// log_errc::overloaded and an append while the brokers are not answering
// (brokers_reachable()) as log_errc::unreachable, both inline: the click
// path never waits longer than append_timeout (and about 100 ms). A
// record that timed out after a broker had it may still land in the topic
// ("possibly persisted"); it is then counted like any other record although
// its click was answered `unrecorded` (late_deliveries() counts them).
//
// Readers read up to the high watermark (what a consumer may see); their
// positions are the caller's to keep (the shards keep them in RocksDB, as
// with the embedded log), nothing is committed to Kafka. Retention is the
// topic's own: set_delete_floor() and pin() do nothing, and a reader whose
// position fell below the oldest retained offset goes on from it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adclick/click_log.h"
#include "base/mutex.h"
#include "kafka/client.h"

namespace adclick::kafka {

struct kafka_log_options {
  client_settings client;
  std::string topic = "clicks";
  // The partition count the topic must have (log.partitions): the click
  // path's partitioner depends on it.
  std::uint32_t partitions = 8;
  std::chrono::milliseconds append_timeout{std::chrono::seconds(5)};
  // How long open() waits for the topic's metadata.
  std::chrono::milliseconds open_timeout{std::chrono::seconds(10)};
};

class kafka_log final : public log::click_log {
 public:
  // Connects and checks that the topic exists with the expected partition
  // count. On failure, error_line is one line naming the problem.
  [[nodiscard]] static result<std::unique_ptr<kafka_log>> open(const kafka_log_options& o,
                                                               std::string& error_line);
  ~kafka_log() override;  // stop()
  kafka_log(const kafka_log&) = delete;
  kafka_log& operator=(const kafka_log&) = delete;

  // Waits up to append_timeout for the appends in flight, fails the rest,
  // and refuses new ones (log_errc::stopped). Idempotent.
  void stop();

  // Whether the brokers answered lately (within about two seconds): what
  // /readyz reports. Any thread.
  bool brokers_reachable() const { return reachable_.load(std::memory_order_relaxed); }
  // Appends answered timed_out whose record was delivered after all.
  std::uint64_t late_deliveries() const { return late_deliveries_.load(std::memory_order_relaxed); }

  std::uint32_t partitions() const override { return partitions_; }
  void append(log::partition_id p, const click_record& r, log::append_handler done) override;
  log::offset_t durable_end(log::partition_id p) const override;
  log::offset_t start_offset(log::partition_id p) const override;
  std::uint64_t durable_generation() const override { return generation_.load(std::memory_order_acquire); }
  std::uint64_t wait_durable(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) const override;
  std::unique_ptr<log::partition_reader> open_reader(log::partition_id p, log::offset_t from) override;
  // One entry per partition covering what the topic retains. Kafka indexes
  // by broker timestamp, not by the click's event time, so the entry's
  // max_event_time_ms is unknown (the largest value) and its
  // min_event_time_ms is the event time of the oldest retained record, read
  // (and kept until retention moves the oldest offset) on the calling
  // thread. When that record cannot be read, it is the current time: the
  // batch layer then treats the partition's history as starting now and
  // recounts nothing that deleted records may have held.
  std::vector<log::segment_info> segments(log::partition_id p) const override;
  void set_delete_floor(log::partition_id /*p*/, log::offset_t /*offset*/) override {}

  // An append between produce and its answer: owned by the message and by
  // the deadline queue (two references), answered once.
  struct in_flight;
  // For the delivery report callback and the readers.
  void report(in_flight* f, std::error_code ec, log::partition_id p, std::int64_t offset);
  void delivered(log::partition_id p, std::int64_t offset);
  void saw_end(log::partition_id p, std::int64_t low, std::int64_t high);
  struct reader_client;  // a consumer handle readers share (one per partition at a time)
  void release_reader(reader_client* c, log::partition_id p);

 private:
  kafka_log(const kafka_log_options& o, std::uint32_t partitions);
  void run_producer_poll();
  // Answers timed_out the appends past their deadline (all, with `all`).
  void expire(bool all);
  void run_watermarks();
  [[nodiscard]] std::error_code query_ends(int timeout_ms);
  void bump();

  const kafka_log_options options_;
  const std::uint32_t partitions_;

  handle producer_;
  topic_handle producer_topic_;
  handle metadata_;  // watermark queries
  std::unique_ptr<std::atomic<std::int64_t>[]> high_;  // per partition; -1 unknown
  std::unique_ptr<std::atomic<std::int64_t>[]> low_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> reachable_{false};
  std::atomic<std::uint64_t> late_deliveries_{0};
  // Appends in produce order, so deadlines ascend; popped by the poll thread.
  base::mutex deadlines_mu_;
  std::deque<in_flight*> deadlines_ GUARDED_BY(deadlines_mu_);
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};

  mutable base::mutex wait_mu_;
  mutable std::condition_variable wait_cv_;

  base::mutex readers_mu_;
  std::vector<std::unique_ptr<reader_client>> reader_clients_ GUARDED_BY(readers_mu_);

  // segments(): per partition, the oldest retained offset whose record's
  // event time is known, and that time.
  struct first_record {
    log::offset_t offset = 0;
    std::int64_t event_time_ms = 0;
    bool known = false;
  };
  [[nodiscard]] std::optional<std::int64_t> first_event_time_ms(log::partition_id p, log::offset_t start) const;
  mutable base::mutex first_mu_;
  mutable std::vector<first_record> first_ GUARDED_BY(first_mu_);

  std::thread producer_poll_;
  std::thread watermarks_;
};

}  // namespace adclick::kafka
