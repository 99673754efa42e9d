#include "app/serve.h"

#include <signal.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "agg/aggregator.h"
#include "api/api.h"
#include "api/live_feed.h"
#include "base/event_clock.h"
#include "base/floor_div.h"
#include "base/lock_file.h"
#include "base/metrics.h"
#include "base/periodic.h"
#include "base/task_queue.h"
#include "http/server.h"
#include "ingest/ad_registry.h"
#include "ingest/click_processor.h"
#include "ingest/dedup_index.h"
#include "ingest/outcome_tallies.h"
#include "ingest/partitioner.h"
#include "ingest/signature.h"
#include "log/archive.h"
#include "log/segmented_log.h"
#include "recon/reconciler.h"
#include "query/query_service.h"
#include "state/ads_snapshot.h"
#include "state/store.h"

namespace adclick::app {
namespace {

spdlog::level::level_enum to_spdlog(config::log_level l) {
  switch (l) {
    case config::log_level::trace: return spdlog::level::trace;
    case config::log_level::debug: return spdlog::level::debug;
    case config::log_level::info: return spdlog::level::info;
    case config::log_level::warn: return spdlog::level::warn;
    case config::log_level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Logs the effective config, one line per table.
void log_effective_config(const config::config& cfg) {
  std::istringstream in(config::describe(cfg));
  std::string line, group;
  auto flush = [&] {
    if (!group.empty()) spdlog::info("config: {}", group);
    group.clear();
  };
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') flush();
    group += group.empty() ? line : " " + line;
  }
  flush();
}

// The shards' committed offsets: the log must never give out an offset below
// them again (log_options::resume_floor).
result<std::vector<std::uint64_t>> committed_offsets(state::store& store, const config::config& cfg) {
  std::vector<std::uint64_t> out;
  for (int p = 0; p < cfg.log.partitions; ++p) {
    auto off = store.get_offset(static_cast<std::uint32_t>(p));
    if (!off) return off.error();
    out.push_back(off->value_or(0));
  }
  return out;
}

log::log_options make_log_options(const config::config& cfg) {
  log::log_options o;
  o.dir = cfg.storage.data_dir + "/log";
  o.partitions = static_cast<std::uint32_t>(cfg.log.partitions);
  o.mode = cfg.log.durability == config::log_durability::sync ? log::durability::sync
                                                               : log::durability::os;
  o.segment_size = cfg.log.segment_size;
  o.segment_age = cfg.log.segment_age;
  o.retention = cfg.log.retention;
  o.batch_max_bytes = cfg.log.batch_max_bytes;
  o.batch_max_delay = std::chrono::duration_cast<std::chrono::microseconds>(cfg.log.batch_max_delay);
  o.preallocate = cfg.log.preallocate;
  o.checkpoint_bytes = cfg.log.journal_size;
  o.append_timeout = cfg.log.append_timeout;
  return o;
}

http::server_options make_server_options(const config::config& cfg) {
  http::server_options o;
  o.host = cfg.server.listen.host;
  o.port = cfg.server.listen.port;
  o.threads = cfg.server.threads;
  o.model = cfg.server.io == config::io_model::shared ? http::io_model::shared
                                                      : http::io_model::per_thread;
  o.max_connections = static_cast<std::uint32_t>(cfg.server.max_connections);
  o.header_timeout = cfg.server.header_timeout;
  o.idle_timeout = cfg.server.idle_timeout;
  o.max_header_bytes = cfg.server.max_header_size;
  o.max_body_bytes = cfg.server.max_body_size;
  o.tls_cert_file = cfg.server.tls_cert.value_or("");
  o.tls_key_file = cfg.server.tls_key.value_or("");
  return o;
}

// Gauges read from the parts when /metrics is rendered. The parts outlive the
// server's handlers (they are stopped after it).
void register_recon_metrics(const recon::reconciler& rec) {
  auto& m = base::metrics();
  using field = std::uint64_t recon::reconciler_totals::*;
  const std::pair<const char*, std::pair<const char*, field>> counters[] = {
      {"adclick_reconcile_runs_total", {"outcome=\"done\"", &recon::reconciler_totals::runs_done}},
      {"adclick_reconcile_runs_total", {"outcome=\"failed\"", &recon::reconciler_totals::runs_failed}},
      {"adclick_reconcile_runs_total", {"outcome=\"cancelled\"", &recon::reconciler_totals::runs_cancelled}},
      {"adclick_reconcile_records_read_total", {"", &recon::reconciler_totals::records_read}},
      {"adclick_reconcile_rows_checked_total", {"", &recon::reconciler_totals::rows_checked}},
      {"adclick_reconcile_rows_corrected_total", {"", &recon::reconciler_totals::rows_corrected}},
      {"adclick_reconcile_drift_clicks_total", {"", &recon::reconciler_totals::drift_abs}},
      {"adclick_reconcile_duplicates_total", {"", &recon::reconciler_totals::duplicates_found}},
      {"adclick_reconcile_corrupt_stretches_total", {"", &recon::reconciler_totals::corrupt_stretches}},
  };
  for (const auto& [name, rest] : counters) {
    const auto [labels, member] = rest;
    m.add_gauge(name, "Reconciliation totals since start (see GET /api/v1/reconciliations)", labels,
                [&rec, member = member] { return static_cast<double>(rec.totals().*member); });
  }
  m.add_gauge("adclick_archive_segments_total", "Log segments archived since start", "",
              [&rec] { return static_cast<double>(rec.totals().segments_archived); });
  m.add_gauge("adclick_archive_failures_total", "Segments whose archiving failed (kept in the log)", "",
              [&rec] { return static_cast<double>(rec.totals().archive_failures); });
  m.add_gauge("adclick_reconcile_last_success_seconds", "Unix time of the last reconciliation that finished",
              "", [&rec] { return static_cast<double>(rec.totals().last_done_ms) / 1000.0; });
}

void register_metrics(const log::segmented_log& lg, const http::server& server,
                      const ingest::dedup_index& dedup, ingest::partitioner& parts,
                      const agg::aggregator& aggregator, state::store& store,
                      const ingest::ad_registry& ads) {
  auto& m = base::metrics();
  const auto& ls = lg.stats();
  m.add_gauge("adclick_log_appends_total", "Records made durable", "",
              [&ls] { return static_cast<double>(ls.appends.load()); });
  m.add_gauge("adclick_log_append_failures_total", "Appends failed (disk full, I/O error)", "",
              [&ls] { return static_cast<double>(ls.append_failures.load()); });
  m.add_gauge("adclick_log_append_timeouts_total",
              "Appends not written within log.append_timeout (answered unrecorded)", "",
              [&ls] { return static_cast<double>(ls.append_timeouts.load()); });
  m.add_gauge("adclick_log_bytes_written_total", "Bytes written to segments", "",
              [&ls] { return static_cast<double>(ls.bytes_written.load()); });
  m.add_gauge("adclick_log_group_commits_total", "Group commits", "",
              [&ls] { return static_cast<double>(ls.batches.load()); });
  m.add_gauge("adclick_log_fsyncs_total", "fdatasync calls on segment files", "",
              [&ls] { return static_cast<double>(ls.syncs.load()); });
  m.add_gauge("adclick_log_fsync_seconds_total", "Time spent in fdatasync", "",
              [&ls] { return static_cast<double>(ls.sync_ns.load()) / 1e9; });
  m.add_gauge("adclick_log_corruptions_total", "Bad stretches of log bytes skipped", "",
              [&ls] { return static_cast<double>(ls.corruptions.load()); });
  m.add_gauge_family("adclick_log_partition_durable_end", "Durable end offset (records) per partition", [&lg] {
    std::vector<std::pair<std::string, double>> out;
    for (log::partition_id p = 0; p < lg.partitions(); ++p) {
      out.emplace_back(fmt::format("partition=\"{}\"", p), static_cast<double>(lg.durable_end(p)));
    }
    return out;
  });
  m.add_gauge_family("adclick_log_partition_lost_records",
                     "Offsets known lost per partition (holes in the log, never reused)", [&lg] {
    std::vector<std::pair<std::string, double>> out;
    for (log::partition_id p = 0; p < lg.partitions(); ++p) {
      double lost = 0;
      for (const auto& h : lg.holes(p)) lost += static_cast<double>(h.to - h.from);
      out.emplace_back(fmt::format("partition=\"{}\"", p), lost);
    }
    return out;
  });
  m.add_gauge_family("adclick_log_partition_bytes", "Bytes of records retained per partition", [&lg] {
    std::vector<std::pair<std::string, double>> out;
    for (log::partition_id p = 0; p < lg.partitions(); ++p) {
      double bytes = 0;
      for (const auto& s : lg.segments(p)) bytes += static_cast<double>(s.bytes);
      out.emplace_back(fmt::format("partition=\"{}\"", p), bytes);
    }
    return out;
  });
  m.add_gauge("adclick_dedup_pending", "Dedup keys waiting for their shard's commit", "",
              [&dedup] { return static_cast<double>(dedup.pending()); });
  m.add_gauge("adclick_hot_ads", "Ads currently salted over several partitions", "", [&parts] {
    return static_cast<double>(parts.hot_ads(base::event_now_ms()).size());
  });
  m.add_gauge("adclick_ads_registered", "Ads in the registry", "",
              [&ads] { return static_cast<double>(ads.size()); });
  m.add_gauge("adclick_ad_cache_bytes", "Memory charged to cached ad records and the cache's admission table", "",
              [&ads] { return static_cast<double>(ads.cache().bytes()); });
  m.add_gauge("adclick_ad_cache_capacity_bytes", "ingest.ad_cache", "",
              [&ads] { return static_cast<double>(ads.cache().capacity_bytes()); });
  m.add_gauge("adclick_ad_cache_entries", "Cached ad records (and cached unknown ids)", "",
              [&ads] { return static_cast<double>(ads.cache().entries()); });
  m.add_gauge("adclick_ad_cache_hits_total", "Ad lookups answered by the cache", "",
              [&ads] { return static_cast<double>(ads.cache().hits()); });
  m.add_gauge("adclick_ad_cache_misses_total", "Ad lookups the cache missed", "",
              [&ads] { return static_cast<double>(ads.cache().misses()); });
  m.add_gauge("adclick_ads_snapshot_ads", "Ads in the ads snapshot in use (0: none)", "",
              [&ads] { return static_cast<double>(ads.snapshot_ads()); });
  m.add_gauge("adclick_ads_snapshot_bytes", "Memory of ingest.ad_cache set aside for the snapshot", "",
              [&ads] { return static_cast<double>(ads.snapshot_bytes()); });
  m.add_gauge("adclick_ads_snapshot_reads_total", "Cache misses answered from the snapshot", "",
              [&ads] { return static_cast<double>(ads.snapshot_reads()); });
  m.add_gauge("adclick_ads_snapshot_errors_total",
              "Snapshot pages that failed their checksum or a read (answered from RocksDB)", "",
              [&ads] { return static_cast<double>(ads.snapshot_errors()); });
  m.add_gauge_family("adclick_shard_lag_records", "Durable records not yet applied, per shard", [&aggregator] {
    std::vector<std::pair<std::string, double>> out;
    for (const auto& s : aggregator.status()) {
      double lag = 0;
      for (const auto& p : s.partitions) lag += static_cast<double>(p.durable_end - p.position);
      out.emplace_back(fmt::format("shard=\"{}\"", s.shard), lag);
    }
    return out;
  });
  m.add_gauge_family("adclick_shard_watermark_seconds", "Event-time watermark per shard", [&aggregator] {
    std::vector<std::pair<std::string, double>> out;
    for (const auto& s : aggregator.status()) {
      out.emplace_back(fmt::format("shard=\"{}\"", s.shard), static_cast<double>(s.watermark_ms) / 1000.0);
    }
    return out;
  });
  m.add_gauge("adclick_shard_commit_failures_total", "Shard commits that failed (retried)", "", [&aggregator] {
    double n = 0;
    for (const auto& s : aggregator.status()) n += static_cast<double>(s.commit_failures);
    return n;
  });
  m.add_gauge("adclick_late_clicks_total", "Clicks too late for the speed layer", "", [&aggregator] {
    double n = 0;
    for (const auto& s : aggregator.status()) n += static_cast<double>(s.late_records);
    return n;
  });
  m.add_gauge("adclick_dedup_keys", "Committed dedup keys (RocksDB estimate)", "",
              [&store] { return static_cast<double>(store.dedup_keys_estimate()); });
  m.add_gauge("adclick_state_sst_bytes", "RocksDB SST bytes", "",
              [&store] { return static_cast<double>(store.stats().sst_bytes); });
  m.add_gauge_family("adclick_http_connections", "HTTP connections", [&server] {
    const auto st = server.stats();
    return std::vector<std::pair<std::string, double>>{
        {"state=\"open\"", static_cast<double>(st.connections_open)},
        {"state=\"accepted_total\"", static_cast<double>(st.connections_accepted)},
        {"state=\"refused_total\"", static_cast<double>(st.connections_refused)}};
  });
  m.add_gauge_family("adclick_http_responses_total", "HTTP responses by status class (all routes)", [&server] {
    const auto st = server.stats();
    return std::vector<std::pair<std::string, double>>{
        {"code=\"2xx\"", static_cast<double>(st.responses_2xx)},
        {"code=\"3xx\"", static_cast<double>(st.responses_3xx)},
        {"code=\"4xx\"", static_cast<double>(st.responses_4xx)},
        {"code=\"5xx\"", static_cast<double>(st.responses_5xx)}};
  });
  m.add_gauge("adclick_http_timeouts_total", "Connections cut off by a header, body, idle or write timeout", "", [&server] {
    const auto st = server.stats();
    return static_cast<double>(st.request_timeouts + st.idle_timeouts + st.write_timeouts);
  });
}

recon::reconciler_options make_recon_options(const config::config& cfg) {
  recon::reconciler_options o;
  o.recount.max_validity_ms = cfg.signing.max_validity.count();
  o.recount.allowed_lateness_ms = cfg.aggregation.allowed_lateness.count();
  o.recount.max_out_of_orderness_ms = cfg.aggregation.max_out_of_orderness.count();
  o.recount.shards = static_cast<std::uint32_t>(std::min(cfg.aggregation.shards, cfg.log.partitions));
  o.recount.max_read_rate = cfg.reconcile.max_read_rate;
  o.interval = cfg.reconcile.interval;
  o.lookback = cfg.reconcile.lookback;
  return o;
}

}  // namespace

int serve(const config::config& cfg) {
  spdlog::set_level(to_spdlog(cfg.logging.level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  log_effective_config(cfg);
  if (config::uses_demo_secrets(cfg)) {
    spdlog::warn(
        "config: demo secrets in use (signing key, admin token or advertiser key from the "
        "shipped config/adclick.toml); replace them before exposing this server");
  }

  // Signals are handled by sigwait() below: block them before any thread starts
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // HTTPS: reload the certificate and key
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string& data_dir = cfg.storage.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    spdlog::error("serve: cannot create data dir {}: {}", data_dir, ec.message());
    return 1;
  }
  long holder = 0;
  auto lock = base::lock_file::acquire(data_dir + "/LOCK", &holder);
  if (!lock) {
    if (lock.error() == std::errc::resource_unavailable_try_again ||
        lock.error() == std::errc::operation_would_block) {
      spdlog::error("serve: data dir {} is in use by another adclick (pid {}); stop it first",
                    data_dir, holder);
    } else {
      spdlog::error("serve: cannot lock {}/LOCK: {}", data_dir, lock.error().message());
    }
    return 1;
  }

  // The HTTP server comes up first so /healthz answers during recovery;
  // /readyz turns ready, and the API stops answering 503, once recovery is
  // done and every part below is built.
  std::atomic<bool> ready{false};
  api::api_context api_ctx;
  api_ctx.admin_token = cfg.auth.admin_token;
  api_ctx.advertiser_keys = cfg.auth.advertiser_keys;
  api_ctx.ready = &ready;
  http::router routes;
  api::add_routes(routes, api_ctx);
  http::server server(make_server_options(cfg), routes);
  std::string listen_error;
  if (auto err = server.start(listen_error)) {
    if (!listen_error.empty()) {
      spdlog::error("serve: {}", listen_error);
    } else {
      spdlog::error("serve: cannot listen on {}:{}: {}", cfg.server.listen.host,
                    cfg.server.listen.port, err.message());
    }
    return 1;
  }
  const bool tls = cfg.server.tls_cert.has_value();
  spdlog::info("serve: listening on {}:{} ({})", cfg.server.listen.host, server.port(),
               tls ? "HTTPS" : "HTTP");
  const std::string host = cfg.server.listen.host.find(':') != std::string::npos
                               ? "[" + cfg.server.listen.host + "]"
                               : cfg.server.listen.host;
  api_ctx.public_base_url =
      (tls ? "https://" : "http://") + host + ":" + std::to_string(server.port());
  // The optional plain-HTTP listener that only redirects to HTTPS.
  std::optional<http::server> redirector;
  if (cfg.server.redirect_listen) {
    http::server_options ro;
    ro.host = cfg.server.redirect_listen->host;
    ro.port = cfg.server.redirect_listen->port;
    ro.threads = 1;
    ro.max_connections = static_cast<std::uint32_t>(cfg.server.max_connections);
    ro.header_timeout = cfg.server.header_timeout;
    ro.idle_timeout = cfg.server.idle_timeout;
    ro.max_header_bytes = cfg.server.max_header_size;
    ro.max_body_bytes = cfg.server.max_body_size;
    ro.redirect_https_port = server.port();
    redirector.emplace(ro, http::router{});
    if (auto err = redirector->start()) {
      spdlog::error("serve: cannot listen on {} (server.redirect_listen): {}",
                    config::to_string(*cfg.server.redirect_listen), err.message());
      server.stop();
      return 1;
    }
    redirector->set_ready(true);
    spdlog::info("serve: redirecting plain HTTP on {}:{} to HTTPS", ro.host, redirector->port());
  }

  std::string state_error;
  const auto state_t0 = std::chrono::steady_clock::now();
  auto opened_store = state::store::open(data_dir + "/state", state_error);
  if (!opened_store) {
    spdlog::error("serve: {}", state_error);
    server.stop();
    return 1;
  }
  auto& store = **opened_store;
  spdlog::info("state: opened RocksDB in {} ms",
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - state_t0)
                   .count());

  log::recovery_report report;
  std::string error_line;
  auto log_options = make_log_options(cfg);
  auto floors = committed_offsets(store, cfg);
  if (!floors) {
    spdlog::error("serve: cannot read the shards' committed offsets: {}", floors.error().message());
    server.stop();
    return 1;
  }
  log_options.resume_floor = std::move(*floors);
  auto opened = log::segmented_log::open(log_options, report, error_line);
  if (!opened) {
    spdlog::error("serve: {}", error_line);
    server.stop();
    return 1;
  }
  auto& click_log = **opened;
  spdlog::info(
      "log: recovered {} partitions, {} segments in {} ms ({} records scanned, {} torn bytes "
      "cut, {} corrupt stretches, {} indexes rebuilt, {} journal records restored, {} known "
      "holes)",
      report.partitions, report.segments, report.took.count(), report.records_scanned,
      report.torn_bytes_cut, report.corruptions, report.indexes_rebuilt,
      report.journal_records_restored, report.holes);
  click_log.start();

  ingest::ad_registry ads(store, cfg.ingest.ad_cache, state::ads_snapshot_path(cfg.storage.data_dir));
  if (auto ec = ads.load()) {
    spdlog::error("serve: cannot load the ads: {}", ec.message());
    server.stop();
    return 1;
  }
  if (cfg.storage.ads_file) {
    std::ifstream in(*cfg.storage.ads_file);
    if (!in) {
      spdlog::error("serve: cannot read storage.ads_file {}", *cfg.storage.ads_file);
      server.stop();
      return 1;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto rep = ingest::import_ads_csv(ads, text);
    for (const auto& e : rep.errors) spdlog::warn("ads: {}: {}", *cfg.storage.ads_file, e);
    spdlog::info("ads: imported {} ads from {} ({} bad rows)", rep.imported, *cfg.storage.ads_file,
                 rep.errors.size());
  }
  spdlog::info("ads: {} ads registered", ads.size());

  ingest::signer signer(cfg.signing.keys, cfg.signing.current_key,
                        cfg.signing.max_validity.count() / 1000);
  ingest::dedup_index dedup(&store, click_log.partitions());
  ingest::partitioner partitioner(click_log.partitions(),
                                  static_cast<std::uint64_t>(cfg.ingest.hot_ad_rate),
                                  static_cast<std::uint32_t>(cfg.ingest.hot_fanout),
                                  cfg.ingest.hot_ads);
  ingest::outcome_tallies tallies;
  ingest::click_processor clicks(click_log, ads, dedup, partitioner, signer, tallies);

  agg::shard_options shard_opts;
  shard_opts.flush_interval = cfg.aggregation.flush_interval;
  shard_opts.allowed_lateness = cfg.aggregation.allowed_lateness;
  shard_opts.max_out_of_orderness = cfg.aggregation.max_out_of_orderness;
  // Set once the live feed exists (below); the shards read it on every commit.
  std::atomic<api::live_feed*> live_ptr{nullptr};
  agg::aggregator aggregator(click_log, store, static_cast<std::uint32_t>(cfg.aggregation.shards),
                             shard_opts, [&dedup, &live_ptr](log::partition_id p, log::offset_t end) {
                               dedup.committed(p, end);
                               if (auto* live = live_ptr.load(std::memory_order_acquire)) live->notify();
                             });
  // Replay before any click is served: the dedup keys of every logged click
  // are in RocksDB before a duplicate of it can arrive.
  auto replay = aggregator.recover();
  if (!replay) {
    spdlog::error("serve: aggregation recovery failed: {}", replay.error().message());
    server.stop();
    return 1;
  }
  spdlog::info("agg: {} shards replayed {} records in {} ms", cfg.aggregation.shards,
               replay->records_replayed, replay->took.count());
  aggregator.start();
  base::periodic_task tally_flush(std::chrono::seconds(1), [&] {
    if (auto ec = tallies.flush(store)) {
      spdlog::error("ingest: writing outcome tallies failed (kept for the next try): {}",
                    ec.message());
    }
  });
  tally_flush.start();
  // Expired dedup keys go in RocksDB's own compactions too; this makes sure
  // the dedup state stays bounded by the validity window even when quiet.
  base::periodic_task dedup_compaction(std::chrono::hours(1), [&] {
    if (auto ec = store.compact_dedup()) spdlog::error("state: dedup compaction failed: {}", ec.message());
  }, /*run_at_stop=*/false);
  dedup_compaction.start();

  register_metrics(click_log, server, dedup, partitioner, aggregator, store, ads);

  // The batch layer: its own thread, its first periodic run one interval
  // from now; runs that a stop or crash interrupted are queued again.
  std::unique_ptr<log::segment_archive> archive;
  std::unique_ptr<log::live_log_archive> live_archive;  // the batch layer's view of it
  auto recon_options = make_recon_options(cfg);
  if (cfg.storage.archive_dir) {
    auto a = log::segment_archive::open(*cfg.storage.archive_dir, error_line);
    if (!a) {
      spdlog::error("serve: {}", error_line);
      server.stop();
      return 1;
    }
    archive = std::move(*a);
    live_archive = std::make_unique<log::live_log_archive>(*archive, make_log_options(cfg).dir);
    recon_options.archive = live_archive.get();
    spdlog::info("archive: {} holds {} segments", archive->dir(), archive->segments().size());
  }
  recon::reconciler reconciler(click_log, store, recon_options);
  if (auto ec = reconciler.start()) {
    spdlog::error("serve: cannot start reconciliation: {}", ec.message());
    server.stop();
    return 1;
  }
  register_recon_metrics(reconciler);

  query::query_options qopts;
  qopts.max_points = static_cast<std::uint64_t>(cfg.query.max_points);
  qopts.shards = static_cast<std::uint32_t>(std::min(cfg.aggregation.shards, cfg.log.partitions));
  qopts.allowed_lateness_ms = cfg.aggregation.allowed_lateness.count();
  query::query_service queries(store, qopts);
  // Queries scan RocksDB: they run here, not on the I/O threads.
  base::task_queue query_workers(2, 256);
  api::live_feed live(queries);
  live.start();
  live_ptr.store(&live, std::memory_order_release);
  api_ctx.live = &live;
  api_ctx.query = &queries;
  api_ctx.query_workers = &query_workers;
  api_ctx.clicks = &clicks;
  api_ctx.ads = &ads;
  api_ctx.partitioner = &partitioner;
  api_ctx.signer = &signer;
  api_ctx.log = &click_log;
  api_ctx.aggregator = &aggregator;
  api_ctx.reconciler = &reconciler;
  ready.store(true, std::memory_order_release);
  server.set_ready(true);
  spdlog::info("serve: ready");

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    if (!tls) {
      spdlog::info("serve: SIGHUP received; nothing to reload (TLS is off)");
      continue;
    }
    std::string reload_error;
    if (server.reload_tls(reload_error)) {
      spdlog::error("serve: SIGHUP: keeping the current certificate: {}", reload_error);
    } else {
      spdlog::info("serve: SIGHUP: certificate and key reloaded from {} and {}; new connections use them",
                   *cfg.server.tls_cert, *cfg.server.tls_key);
    }
  }
  spdlog::info("serve: {} received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");

  // Reverse order: stop taking requests and finish those in flight, then
  // write and sync the log, let the shards apply and commit what it holds,
  // write the last tallies, and close RocksDB (when `store` goes).
  live.stop();  // closes the live streams, so that the server need not wait for them
  if (redirector) redirector->stop();
  server.stop();
  query_workers.stop();
  reconciler.stop();  // a run in progress is cancelled and queued again at the next start
  click_log.stop();
  aggregator.stop();
  tally_flush.stop();
  dedup_compaction.stop();
  spdlog::info("serve: stopped cleanly");
  return 0;
}

int reconcile_offline(const config::config& cfg, std::int64_t from_s, std::int64_t to_s, bool from_archive) {
  const std::string& data_dir = cfg.storage.data_dir;
  long holder = 0;
  auto lock = base::lock_file::acquire(data_dir + "/LOCK", &holder);
  if (!lock) {
    std::fprintf(stderr, "adclick: data dir %s is in use (pid %ld); stop the server first, or use "
                 "POST /api/v1/reconciliations on it\n", data_dir.c_str(), holder);
    return 1;
  }
  std::string error_line;
  auto store = state::store::open(data_dir + "/state", error_line);
  if (!store) {
    std::fprintf(stderr, "adclick: %s\n", error_line.c_str());
    return 1;
  }
  auto log_options = make_log_options(cfg);
  std::string scratch;
  if (from_archive) {
    // The archived segments that meet the range (and the dedup window before
    // it) become a log of their own in a scratch directory.
    if (!cfg.storage.archive_dir) {
      std::fprintf(stderr, "adclick: --from-archive needs storage.archive_dir in the config\n");
      return 2;
    }
    auto archive = log::segment_archive::open(*cfg.storage.archive_dir, error_line);
    if (!archive) {
      std::fprintf(stderr, "adclick: %s\n", error_line.c_str());
      return 1;
    }
    // Only minutes the archive holds completely: every record of the live
    // log that it does not hold is at or after this time.
    {
      log::recovery_report live_rep;
      auto live = log::segmented_log::open(log_options, live_rep, error_line);
      if (!live) {
        std::fprintf(stderr, "adclick: %s\n", error_line.c_str());
        return 1;
      }
      const std::int64_t complete = log::archive_complete_before(**archive, **live);
      (*live)->stop();
      if (complete != INT64_MAX) {
        const std::int64_t cut_s = base::floor_div(complete, 60000) * 60;
        if (cut_s < to_s) {
          std::fprintf(stderr, "adclick: the archive holds every record only before %lld (Unix s); the range ends there\n",
                       static_cast<long long>(cut_s));
          to_s = cut_s;
        }
        if (to_s <= from_s) {
          std::fprintf(stderr, "adclick: the archive does not hold this range completely; use the live log\n");
          return 1;
        }
      }
    }
    scratch = data_dir + "/reconcile-from-archive";
    std::error_code rm_ec;
    std::filesystem::remove_all(scratch, rm_ec);
    const std::int64_t slack = cfg.aggregation.max_out_of_orderness.count() +
                               cfg.aggregation.allowed_lateness.count() + 60'000;
    std::string problem;
    auto n = log::extract_range(**archive, static_cast<std::uint32_t>(cfg.log.partitions),
                                from_s * 1000 - cfg.signing.max_validity.count() - slack, to_s * 1000,
                                scratch, problem);
    if (!n) {
      std::fprintf(stderr, "adclick: archive: %s\n", problem.empty() ? n.error().message().c_str() : problem.c_str());
      std::filesystem::remove_all(scratch, rm_ec);
      return 1;
    }
    std::fprintf(stderr, "adclick: %zu archived segments extracted\n", *n);
    log_options.dir = scratch;
    log_options.record_gaps = false;
  } else {
    auto floors = committed_offsets(**store, cfg);
    if (!floors) {
      std::fprintf(stderr, "adclick: cannot read the shards' committed offsets: %s\n",
                   floors.error().message().c_str());
      return 1;
    }
    log_options.resume_floor = std::move(*floors);
  }
  log::recovery_report recovered;
  auto opened = log::segmented_log::open(log_options, recovered, error_line);
  if (!opened) {
    std::fprintf(stderr, "adclick: %s\n", error_line.c_str());
    return 1;
  }
  recon::reconciler rec(**opened, **store, make_recon_options(cfg));
  auto r = rec.run_now(from_s * 1000, to_s * 1000, recon::trigger::cli);
  (*opened)->stop();
  if (!scratch.empty()) {
    opened->reset();
    std::error_code rm_ec;
    std::filesystem::remove_all(scratch, rm_ec);
  }
  if (!r) {
    std::fprintf(stderr, "adclick: reconcile: %s\n", r.error().message().c_str());
    return 1;
  }
  std::printf("%s\n", recon::to_json(*r).c_str());
  if (r->state != recon::run_state::done) {
    std::fprintf(stderr, "adclick: reconcile: run %llu %s%s%s\n", static_cast<unsigned long long>(r->id),
                 std::string(recon::to_string(r->state)).c_str(), r->error.empty() ? "" : ": ",
                 r->error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace adclick::app
