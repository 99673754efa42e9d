#pragma once
// The running server's owner: every part, built by start() in data-flow
// order (state, log, the click path's front end, the speed layer, the batch
// layer, queries, the API) and stopped by stop() in reverse. A part that was
// not built is null, so stop() and the destructor clean up after a start()
// that failed halfway.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <system_error>

#include "api/api.h"
#include "app/data_dir.h"
#include "config/config.h"

namespace adclick::agg {
class aggregator;
struct partials_lock;
}  // namespace adclick::agg
namespace adclick::api {
class live_feed;
}
namespace adclick::base {
class periodic_task;
class task_queue;
}  // namespace adclick::base
namespace adclick::http {
class server;
}
namespace adclick::ingest {
class front_end;
}
namespace adclick::kafka {
class counts_materializer;
class counts_publisher;
class group_member;
class kafka_log;
}  // namespace adclick::kafka
namespace adclick::log {
class click_log;
class live_log_archive;
class segment_archive;
class segmented_log;
}  // namespace adclick::log
namespace adclick::query {
class query_service;
}
namespace adclick::recon {
class reconciler;
}

namespace adclick::app {

// One thread calls start(), reload() and stop().
class engine {
 public:
  // `cfg` (validated) must outlive the engine.
  explicit engine(const config::config& cfg);
  ~engine();  // stop()
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Opens the port first, with the starting routes (/healthz answers,
  // /readyz and the API answer 503), so that the process is seen alive
  // during recovery; then holds the data dir, recovers the log and the
  // shards, and builds the rest. Once everything the API uses exists, the
  // full routes are served and /readyz turns ready. False with `error_line`
  // set on failure.
  [[nodiscard]] bool start(std::string& error_line);

  // A config reload: with HTTPS the certificate and key are read again
  // (see http::server) first; when that fails nothing changes and
  // `error_line` says why. Then the signing keys and the API tokens of
  // `next` (validated, see config::reloadable_part) replace the running
  // ones: a click or request sees either set whole.
  [[nodiscard]] bool reload(const config::config& next, std::string& error_line);
  bool tls() const;
  // POST /api/v1/backups (app/backup.h): one at a time (409 while another
  // runs). Any thread, after start(); the embedded log only.
  api::backup_answer backup(const std::string& path, std::uint64_t max_rate);

  // Whether /readyz answers 200 now. Any thread, after start().
  bool ready() const;

  // Stops taking requests and finishes those in flight, then writes and
  // syncs the log, lets the shards apply and commit what it holds, writes
  // the last tallies; RocksDB closes with the engine. Idempotent.
  void stop();

 private:
  [[nodiscard]] bool open_listeners(std::string& error_line);
  [[nodiscard]] bool open_state(std::string& error_line);
  [[nodiscard]] bool open_log(std::string& error_line);
  [[nodiscard]] bool open_embedded_log(std::string& error_line);
  [[nodiscard]] bool open_kafka_log(std::string& error_line);
  [[nodiscard]] bool open_front_end(std::string& error_line);
  [[nodiscard]] bool start_speed_layer(std::string& error_line);
  // Kafka: the shards follow the group's assignment and publish to the
  // counts topic, which this node materializes.
  [[nodiscard]] bool start_cluster_speed_layer(std::string& error_line);
  void partitions_assigned(const std::vector<std::uint32_t>& partitions);
  void partitions_revoked();
  [[nodiscard]] bool start_batch_layer(std::string& error_line);
  [[nodiscard]] bool serve_api(std::string& error_line);

  const config::config& cfg_;

  // Built by start() in this order, destroyed in reverse.
  std::optional<held_data_dir> data_;  // the LOCK and RocksDB
  std::unique_ptr<log::click_log> log_;
  // log_ as what it is (log.backend): one of the two is set.
  log::segmented_log* embedded_log_ = nullptr;
  kafka::kafka_log* kafka_log_ = nullptr;
  // Kafka: /readyz follows whether the brokers answer.
  std::unique_ptr<base::periodic_task> readiness_;
  std::unique_ptr<ingest::front_end> front_;
  std::unique_ptr<base::periodic_task> tally_flush_;       // front end -> state, every second
  std::unique_ptr<base::periodic_task> dedup_compaction_;  // state, hourly
  // The live feed the shards notify on every commit: set once the feed
  // exists (it is built after them), read by the shard threads.
  std::atomic<api::live_feed*> live_for_shards_{nullptr};
  std::unique_ptr<agg::aggregator> speed_layer_;
  // Kafka: the counts topic both ways, and membership of the aggregators'
  // group (which drives speed_layer_'s partitions).
  std::unique_ptr<agg::partials_lock> partials_lock_;
  std::unique_ptr<kafka::counts_publisher> counts_out_;
  std::unique_ptr<kafka::counts_materializer> counts_in_;
  std::unique_ptr<kafka::group_member> member_;
  // Kafka: the front end's pending dedup keys of partitions other nodes
  // aggregate are let go (those nodes decide duplicates).
  std::unique_ptr<base::periodic_task> foreign_keys_;
  // Kafka: the group's first share has been taken over (replayed, its dedup
  // keys restored): until then /readyz says not ready.
  std::atomic<bool> first_share_{false};
  std::unique_ptr<log::segment_archive> archive_;
  std::unique_ptr<log::live_log_archive> live_archive_;  // the batch layer's view of archive_
  std::unique_ptr<recon::reconciler> batch_layer_;
  std::unique_ptr<query::query_service> queries_;
  std::unique_ptr<base::task_queue> api_workers_;  // the handlers that touch disk
  std::unique_ptr<api::live_feed> live_;
  std::atomic<bool> backup_running_{false};
  std::atomic<bool> stopping_backup_{false};  // set by stop(): a running backup gives up
  std::unique_ptr<base::published<api::credentials>> tokens_;  // api_ctx_.tokens
  api::api_context api_ctx_;  // complete before the full routes are served
  // The last stage of the data flow, though opened first (see start()).
  std::unique_ptr<http::server> server_;
  std::unique_ptr<http::server> redirector_;  // server.redirect_listen
};

}  // namespace adclick::app
