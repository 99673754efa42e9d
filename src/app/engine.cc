#include "app/engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <tuple>

#include "agg/agg_metrics.h"
#include "agg/aggregator.h"
#include "agg/partial_sink.h"
#include "agg/source_writer.h"
#include "api/live_feed.h"
#include "app/backup.h"
#include "app/options.h"
#include "base/event_clock.h"
#include "base/metrics.h"
#include "base/periodic.h"
#include "base/process_metrics.h"
#include "base/task_queue.h"
#include "http/http_metrics.h"
#include "http/server.h"
#include "ingest/front_end.h"
#include "kafka/counts_topic.h"
#include "kafka/group_member.h"
#include "kafka/kafka_log.h"
#include "kafka/kafka_metrics.h"
#include "log/archive.h"
#include "log/log_metrics.h"
#include "log/segmented_log.h"
#include "query/query_service.h"
#include "recon/recon_metrics.h"
#include "recon/reconciler.h"
#include "state/state_metrics.h"

namespace adclick::app {
namespace {

std::int64_t ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

engine::engine(const config::config& cfg) : cfg_(cfg) {}

engine::~engine() { stop(); }

bool engine::start(std::string& error_line) {
  return open_listeners(error_line) && open_state(error_line) && open_log(error_line) &&
         open_front_end(error_line) && start_speed_layer(error_line) && start_batch_layer(error_line) &&
         serve_api(error_line);
}

// The port opens before the data dir is touched, with the starting routes:
// what they serve needs nothing built below.
bool engine::open_listeners(std::string& error_line) {
  http::router starting;
  api::add_starting_routes(starting);
  server_ = std::make_unique<http::server>(server_options_from(cfg_), starting);
  std::string listen_error;
  if (auto ec = server_->start(listen_error)) {
    error_line = !listen_error.empty() ? listen_error
                                       : fmt::format("cannot listen on {}:{}: {}", cfg_.server.listen.host,
                                                     cfg_.server.listen.port, ec.message());
    return false;
  }
  spdlog::info("serve: listening on {}:{} ({})", cfg_.server.listen.host, server_->port(), tls() ? "HTTPS" : "HTTP");
  http::register_metrics(*server_, base::metrics());
  base::register_process_metrics(base::metrics());
  if (!cfg_.server.redirect_listen) return true;
  const auto ro = redirect_options_from(cfg_, server_->port());
  redirector_ = std::make_unique<http::server>(ro, http::router{});
  if (auto ec = redirector_->start()) {
    error_line = fmt::format("cannot listen on {} (server.redirect_listen): {}",
                             config::to_string(*cfg_.server.redirect_listen), ec.message());
    return false;
  }
  redirector_->set_ready(true);
  spdlog::info("serve: redirecting plain HTTP on {}:{} to HTTPS", ro.host, redirector_->port());
  return true;
}

bool engine::open_state(std::string& error_line) {
  const auto t0 = std::chrono::steady_clock::now();
  auto held = hold_data_dir(cfg_.storage.data_dir, if_missing::create, "stop it first", error_line);
  if (!held) return false;
  data_.emplace(std::move(*held));
  spdlog::info("state: opened RocksDB in {} ms", ms_since(t0));
  state::register_metrics(*data_->store, base::metrics());
  return true;
}

bool engine::open_log(std::string& error_line) {
  return cfg_.log.backend == config::log_backend::kafka ? open_kafka_log(error_line) : open_embedded_log(error_line);
}

bool engine::open_embedded_log(std::string& error_line) {
  auto options = log_options_from(cfg_);
  auto floors = committed_offsets(*data_->store, cfg_);
  if (!floors) {
    error_line = "cannot read the shards' committed offsets: " + floors.error().message();
    return false;
  }
  options.resume_floor = std::move(*floors);
  log::recovery_report report;
  auto opened = log::segmented_log::open(options, report, error_line);
  if (!opened) return false;
  embedded_log_ = opened->get();
  log_ = std::move(*opened);
  spdlog::info(
      "log: recovered {} partitions, {} segments in {} ms ({} records scanned, {} torn bytes "
      "cut, {} corrupt stretches, {} indexes rebuilt, {} journal records restored, {} known "
      "holes)",
      report.partitions, report.segments, report.took.count(), report.records_scanned, report.torn_bytes_cut,
      report.corruptions, report.indexes_rebuilt, report.journal_records_restored, report.holes);
  embedded_log_->start();
  log::register_metrics(*embedded_log_, base::metrics());
  return true;
}

// Nothing to recover: the topic is the log. Offsets never go back (Kafka
// never reuses one), so no floor is needed; a shard's stored offset beyond
// the topic's end (another cluster, a recreated topic) fails its recovery.
bool engine::open_kafka_log(std::string& error_line) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto options = kafka_log_options_from(cfg_);
  auto opened = kafka::kafka_log::open(options, error_line);
  if (!opened) return false;
  kafka_log_ = opened->get();
  log_ = std::move(*opened);
  kafka::register_metrics(*kafka_log_, base::metrics());
  spdlog::info("log: topic \"{}\" on {}: {} partitions, reached in {} ms", options.topic,
               options.client.bootstrap_servers, options.partitions, ms_since(t0));
  return true;
}

bool engine::open_front_end(std::string& error_line) {
  front_ = std::make_unique<ingest::front_end>(*data_->store, *log_, front_end_options_from(cfg_));
  if (auto ec = front_->load()) {
    error_line = "cannot load the ads: " + ec.message();
    return false;
  }
  if (const auto& file = cfg_.storage.ads_file) {
    std::ifstream in(*file);
    if (!in) {
      error_line = "cannot read storage.ads_file " + *file;
      return false;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto rep = ingest::import_ads_csv(front_->ads(), text);
    for (const auto& e : rep.errors) spdlog::warn("ads: {}: {}", *file, e);
    spdlog::info("ads: imported {} ads from {} ({} bad rows)", rep.imported, *file, rep.errors.size());
  }
  spdlog::info("ads: {} ads registered", front_->ads().size());
  front_->register_metrics(base::metrics());
  if (kafka_log_ == nullptr) {
    // (On Kafka the tallies are published: start_cluster_speed_layer.)
    tally_flush_ = std::make_unique<base::periodic_task>(std::chrono::seconds(1), [this] {
      if (auto ec = front_->tallies().flush(*data_->store)) {
        spdlog::error("ingest: writing outcome tallies failed (kept for the next try): {}", ec.message());
      }
    });
    tally_flush_->start();
  }
  // Expired dedup keys go in RocksDB's own compactions too; this makes sure
  // the dedup state stays bounded by the validity window even when quiet.
  dedup_compaction_ = std::make_unique<base::periodic_task>(
      std::chrono::hours(1),
      [this] {
        if (auto ec = data_->store->compact_dedup()) spdlog::error("state: dedup compaction failed: {}", ec.message());
      },
      /*run_at_stop=*/false);
  dedup_compaction_->start();
  return true;
}

bool engine::start_speed_layer(std::string& error_line) {
  if (kafka_log_ != nullptr) return start_cluster_speed_layer(error_line);
  auto& dedup = front_->dedup();
  speed_layer_ = std::make_unique<agg::aggregator>(
      *log_, *data_->store, static_cast<std::uint32_t>(cfg_.aggregation.shards), shard_options_from(cfg_),
      [&dedup, &live = live_for_shards_](log::partition_id p, log::offset_t end) {
        dedup.committed(p, end);
        if (auto* feed = live.load(std::memory_order_acquire)) feed->notify();
      });
  // Replay before any click is served: the dedup keys of every logged click
  // are in RocksDB before a duplicate of it can arrive.
  auto replay = speed_layer_->recover();
  if (!replay) {
    error_line = "aggregation recovery failed: " + replay.error().message();
    return false;
  }
  spdlog::info("agg: {} shards replayed {} records in {} ms", cfg_.aggregation.shards, replay->records_replayed,
               replay->took.count());
  speed_layer_->start();
  agg::register_metrics(*speed_layer_, base::metrics());
  return true;
}

// A node of a cluster aggregates the partitions the group gives it. Its
// front end serves at once: duplicates are decided where the copies meet,
// in the partition's aggregator, whichever node that is.
bool engine::start_cluster_speed_layer(std::string& error_line) {
  const auto& roles = cfg_.node.roles;
  const auto co = counts_options_from(cfg_);
  partials_lock_ = std::make_unique<agg::partials_lock>();
  if (roles.aggregate || roles.front) {
    auto out = kafka::counts_publisher::open(co, error_line);
    if (!out) return false;
    counts_out_ = std::move(*out);
  }
  if (roles.aggregate || roles.query) {
    // Queries answer from what it holds; an aggregator goes on from it when
    // it takes a partition over.
    auto in = kafka::counts_materializer::open(co, *data_->store, *partials_lock_, log_->partitions(), error_line);
    if (!in) return false;
    counts_in_ = std::move(*in);
    counts_in_->start();
    kafka::register_metrics(*counts_in_, base::metrics());
  }
  auto& dedup = front_->dedup();
  if (roles.aggregate) {
    auto options = shard_options_from(cfg_);
    options.sink = counts_out_.get();
    options.partials = partials_lock_.get();
    options.dedup_window = cfg_.signing.max_validity + cfg_.aggregation.max_out_of_orderness;
    speed_layer_ = std::make_unique<agg::aggregator>(
        *log_, *data_->store, static_cast<std::uint32_t>(cfg_.aggregation.shards),
        std::vector<log::partition_id>{}, options,
        [&dedup, &live = live_for_shards_](log::partition_id p, log::offset_t end) {
          dedup.committed(p, end);
          if (auto* feed = live.load(std::memory_order_acquire)) feed->notify();
        });
    agg::register_metrics(*speed_layer_, base::metrics());

    kafka::group_listener listener;
    listener.assigned = [this](const std::vector<log::partition_id>& ps) { partitions_assigned(ps); };
    listener.revoked = [this](const std::vector<log::partition_id>&) { partitions_revoked(); };
    auto member = kafka::group_member::join(group_options_from(cfg_), std::move(listener), error_line);
    if (!member) return false;
    member_ = std::move(*member);
  } else {
    first_share_.store(true);  // nothing to take over
  }

  if (roles.front) {
    // The outcome tallies as this node's own partials, for every query node.
    tally_flush_ = std::make_unique<base::periodic_task>(
        std::chrono::seconds(1), [this, source = agg::node_source(cfg_.node.id), last = std::uint64_t{0}]() mutable {
          auto rows = front_->tallies().take();
          if (rows.empty()) return;
          std::vector<agg::source_cell> cells;
          cells.reserve(rows.size());
          for (const auto& [k, n] : rows) cells.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), n});
          const auto version = std::max(last + 1, static_cast<std::uint64_t>(base::event_now_ms()));
          if (auto ec = agg::write_source(*data_->store, *partials_lock_, *counts_out_, source, version, cells,
                                          agg::cell_rule::add)) {
            front_->tallies().put_back(rows);
            spdlog::error("ingest: publishing outcome tallies failed (kept for the next try): {}", ec.message());
            return;
          }
          last = version;
        });
    tally_flush_->start();
    foreign_keys_ = std::make_unique<base::periodic_task>(
        std::chrono::seconds(1),
        [this, &dedup] {
          const auto mine = member_ ? member_->assignment() : std::vector<log::partition_id>{};
          for (log::partition_id p = 0; p < log_->partitions(); ++p) {
            if (std::find(mine.begin(), mine.end(), p) == mine.end()) dedup.committed(p, log_->durable_end(p));
          }
        },
        /*run_at_stop=*/false);
    foreign_keys_->start();
  }
  return true;
}

void engine::partitions_assigned(const std::vector<std::uint32_t>& partitions) {
  // The previous owners' last flushes first, so that the shards go on from
  // where they stopped rather than replay more than needed (replaying from
  // an older offset would publish the same values again).
  const auto t0 = std::chrono::steady_clock::now();
  if (!counts_in_->wait_caught_up(std::chrono::seconds(30))) {
    spdlog::warn("kafka: the counts topic was not read to its end within 30 s; the shards replay from older offsets");
  }
  counts_in_->set_owned(partitions);
  auto r = speed_layer_->assign(partitions);
  if (!r) {
    // The partitions stay with this node, uncounted until it restarts:
    // say so loudly.
    spdlog::critical("agg: cannot take over partitions (they are not being counted): {}", r.error().message());
    return;
  }
  spdlog::info("agg: took over {} partitions, {} records replayed in {} ms", partitions.size(), r->records_replayed,
               ms_since(t0));
  first_share_.store(true);
}

void engine::partitions_revoked() {
  speed_layer_->revoke();  // each shard's last flush, published and committed
  counts_in_->set_owned({});
}

// Its own thread, its first periodic run one interval from now; runs that a
// stop or crash interrupted are queued again.
bool engine::start_batch_layer(std::string& error_line) {
  // On Kafka, the aggregators recount.
  if (kafka_log_ != nullptr && !cfg_.node.roles.aggregate) return true;
  auto options = recon_options_from(cfg_);
  if (kafka_log_ != nullptr) {
    // Corrections go to every node, as the batch layer's own partials.
    options.recount.publish_corrections =
        [this](const std::vector<std::tuple<std::uint64_t, std::int64_t, std::uint64_t>>& fixes) {
          std::vector<agg::source_cell> cells;
          cells.reserve(fixes.size());
          for (const auto& [ad, minute, clicks] : fixes) cells.push_back({ad, minute, state::tally_kind::clicks, clicks});
          return agg::write_source(*data_->store, *partials_lock_, *counts_out_, agg::kCorrectionSource,
                                   static_cast<std::uint64_t>(base::event_now_ms()), cells, agg::cell_rule::set_total);
        };
  }
  if (cfg_.storage.archive_dir) {
    auto a = log::segment_archive::open(*cfg_.storage.archive_dir, error_line);
    if (!a) return false;
    archive_ = std::move(*a);
    live_archive_ = std::make_unique<log::live_log_archive>(*archive_, log_options_from(cfg_).dir);
    options.archive = live_archive_.get();
    spdlog::info("archive: {} holds {} segments", archive_->dir(), archive_->segments().size());
  }
  batch_layer_ = std::make_unique<recon::reconciler>(*log_, *data_->store, options);
  if (auto ec = batch_layer_->start()) {
    error_line = "cannot start reconciliation: " + ec.message();
    return false;
  }
  recon::register_metrics(*batch_layer_, base::metrics());
  return true;
}

bool engine::serve_api(std::string& error_line) {
  queries_ = std::make_unique<query::query_service>(*data_->store, query_options_from(cfg_));
  api_workers_ = std::make_unique<base::task_queue>(2, 256);
  live_ = std::make_unique<api::live_feed>(*queries_);
  live_->start();
  live_for_shards_.store(live_.get(), std::memory_order_release);

  api_ctx_.clicks = &front_->clicks();
  api_ctx_.ads = &front_->ads();
  api_ctx_.partitioner = &front_->partitions();
  api_ctx_.signer = &front_->signatures();
  api_ctx_.aggregator = speed_layer_.get();
  api_ctx_.reconciler = batch_layer_.get();
  api_ctx_.live = live_.get();
  api_ctx_.query = queries_.get();
  api_ctx_.log = log_.get();
  api_ctx_.workers = api_workers_.get();
  tokens_ = std::make_unique<base::published<api::credentials>>(
      api::credentials{cfg_.auth.admin_token, cfg_.auth.advertiser_keys});
  api_ctx_.tokens = tokens_.get();
  if (embedded_log_ != nullptr)
    api_ctx_.backup = [this](const std::string& path, std::uint64_t max_rate) {
      return backup(path, max_rate);
    };
  api_ctx_.public_base_url = std::string(tls() ? "https://" : "http://") +
                             config::to_string(config::endpoint{cfg_.server.listen.host, server_->port()});
  api_ctx_.serves_clicks = cfg_.node.roles.front;
  api_ctx_.serves_aggregation = cfg_.node.roles.aggregate;
  api_ctx_.serves_queries = cfg_.node.roles.query;
  http::router routes;
  api::add_routes(routes, api_ctx_);
  if (auto ec = server_->serve_routes(std::move(routes))) {
    error_line = "cannot serve the API: " + ec.message();
    return false;
  }
  if (kafka_log_ == nullptr) {
    server_->set_ready(true);
    return true;
  }
  // A node without its brokers answers /click (302 `unrecorded`) and says
  // it is not ready until they answer again; nor before it has taken its
  // first share of the partitions.
  const bool reachable_now = kafka_log_->brokers_reachable();
  server_->set_ready(reachable_now && first_share_.load());
  readiness_ = std::make_unique<base::periodic_task>(
      std::chrono::milliseconds(250),
      [this, was = reachable_now]() mutable {
        const bool reachable = kafka_log_->brokers_reachable();
        server_->set_ready(reachable && first_share_.load());
        if (reachable == was) return;
        was = reachable;
        if (reachable) {
          spdlog::info("kafka: brokers reachable; ready");
        } else {
          spdlog::warn("kafka: brokers not answering; /readyz says not ready, clicks are answered unrecorded");
        }
      },
      /*run_at_stop=*/false);
  readiness_->start();
  return true;
}

api::backup_answer engine::backup(const std::string& path, std::uint64_t max_rate) {
  if (backup_running_.exchange(true))
    return {409, "another backup is running; try again when it has finished"};
  struct release {
    std::atomic<bool>& flag;
    ~release() { flag.store(false); }
  } running{backup_running_};
  backup_error err;
  spdlog::info("backup: into {}", path);
  std::optional<std::string> manifest;
  try {
    manifest = take_backup(*embedded_log_, *data_->store, cfg_.storage.data_dir, path, max_rate,
                           &stopping_backup_, err);
  } catch (const std::exception& e) {
    err = {backup_failure::failed, e.what()};
  }
  if (!manifest) {
    spdlog::error("backup: into {} failed: {}", path, err.line);
    const int status = err.kind == backup_failure::invalid    ? 400
                       : err.kind == backup_failure::conflict ? 409
                                                              : 500;
    return {status, err.line};
  }
  spdlog::info("backup: into {} complete", path);
  return {201, std::move(*manifest)};
}

bool engine::reload(const config::config& next, std::string& error_line) {
  if (tls() && server_->reload_tls(error_line)) return false;
  if (!front_->signer_keys().replace_keys(next.signing.keys, next.signing.current_key)) {
    error_line =
        "signing.current_key names no key of signing.keys";  // validated before: not reached
    return false;
  }
  tokens_->publish(api::credentials{next.auth.admin_token, next.auth.advertiser_keys});
  return true;
}

bool engine::tls() const { return cfg_.server.tls_cert.has_value(); }

bool engine::ready() const { return server_ != nullptr && server_->ready(); }

// Not quite the reverse of start(): the live streams close before the server
// stops (it would wait for them), and the log stops before the shards, so
// that they apply every record it writes while stopping.
void engine::stop() {
  stopping_backup_.store(true);  // a backup in progress gives up, freeing its worker
  if (live_) live_->stop();
  if (readiness_) readiness_->stop();
  if (redirector_) redirector_->stop();
  if (server_) server_->stop();
  if (api_workers_) api_workers_->stop();
  if (batch_layer_) batch_layer_->stop();  // a run in progress is cancelled and queued again at the next start
  if (embedded_log_ != nullptr) embedded_log_->stop();
  if (kafka_log_ != nullptr) kafka_log_->stop();
  if (foreign_keys_) foreign_keys_->stop();
  if (member_) member_->leave();  // the shards' last flush, then the group shares them out
  if (speed_layer_) speed_layer_->stop();
  if (counts_in_) counts_in_->stop();
  if (tally_flush_) tally_flush_->stop();
  if (dedup_compaction_) dedup_compaction_->stop();
}

}  // namespace adclick::app
