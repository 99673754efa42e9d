#include "app/options.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "state/ads_snapshot.h"
#include "state/store.h"

namespace adclick::app {
namespace {

// Shards never outnumber partitions (aggregator does the same).
std::uint32_t effective_shards(const config::config& cfg) {
  return static_cast<std::uint32_t>(std::min(cfg.aggregation.shards, cfg.log.partitions));
}

}  // namespace

log::log_options log_options_from(const config::config& cfg) {
  log::log_options o;
  o.dir = cfg.storage.data_dir + "/log";
  o.partitions = static_cast<std::uint32_t>(cfg.log.partitions);
  o.mode = cfg.log.durability == config::log_durability::sync ? log::durability::sync : log::durability::os;
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

kafka::kafka_log_options kafka_log_options_from(const config::config& cfg) {
  kafka::kafka_log_options o;
  o.client.bootstrap_servers = cfg.kafka.bootstrap_servers;
  o.client.properties = cfg.kafka.properties;
  o.client.client_id = "adclick-" + cfg.node.id;
  o.topic = cfg.kafka.topic;
  o.partitions = static_cast<std::uint32_t>(cfg.log.partitions);
  o.append_timeout = cfg.log.append_timeout;
  return o;
}

kafka::counts_options counts_options_from(const config::config& cfg) {
  kafka::counts_options o;
  o.client = kafka_log_options_from(cfg).client;
  o.topic = cfg.kafka.counts_topic;
  return o;
}

kafka::group_options group_options_from(const config::config& cfg) {
  kafka::group_options o;
  o.client = kafka_log_options_from(cfg).client;
  o.topic = cfg.kafka.topic;
  o.group = cfg.kafka.group;
  return o;
}

http::server_options server_options_from(const config::config& cfg) {
  http::server_options o;
  o.host = cfg.server.listen.host;
  o.port = cfg.server.listen.port;
  o.threads = cfg.server.threads;
  o.model = cfg.server.io == config::io_model::shared ? http::io_model::shared : http::io_model::per_thread;
  o.max_connections = static_cast<std::uint32_t>(cfg.server.max_connections);
  o.header_timeout = cfg.server.header_timeout;
  o.idle_timeout = cfg.server.idle_timeout;
  o.max_header_bytes = cfg.server.max_header_size;
  o.max_body_bytes = cfg.server.max_body_size;
  o.tls_cert_file = cfg.server.tls_cert.value_or("");
  o.tls_key_file = cfg.server.tls_key.value_or("");
  if (cfg.server.hsts && cfg.server.tls_cert) {
    o.strict_transport_security =
        fmt::format("max-age={}", std::chrono::duration_cast<std::chrono::seconds>(*cfg.server.hsts).count());
  }
  return o;
}

http::server_options redirect_options_from(const config::config& cfg, std::uint16_t https_port) {
  http::server_options o = server_options_from(cfg);
  o.host = cfg.server.redirect_listen->host;
  o.port = cfg.server.redirect_listen->port;
  o.threads = 1;
  o.model = http::io_model::per_thread;
  o.tls_cert_file.clear();
  o.tls_key_file.clear();
  o.strict_transport_security.clear();  // never over plain HTTP (RFC 6797 7.2)
  o.redirect_https_port = https_port;
  return o;
}

ingest::front_end_options front_end_options_from(const config::config& cfg) {
  ingest::front_end_options o;
  o.ad_cache_bytes = cfg.ingest.ad_cache;
  o.ads_snapshot_path = state::ads_snapshot_path(cfg.storage.data_dir);
  o.signing_keys = cfg.signing.keys;
  o.current_key = cfg.signing.current_key;
  o.max_validity_s = cfg.signing.max_validity.count() / 1000;
  o.hot_ad_rate = static_cast<std::uint64_t>(cfg.ingest.hot_ad_rate);
  o.hot_fanout = static_cast<std::uint32_t>(cfg.ingest.hot_fanout);
  o.hot_ads = cfg.ingest.hot_ads;
  return o;
}

agg::shard_options shard_options_from(const config::config& cfg) {
  agg::shard_options o;
  o.flush_interval = cfg.aggregation.flush_interval;
  o.allowed_lateness = cfg.aggregation.allowed_lateness;
  o.max_out_of_orderness = cfg.aggregation.max_out_of_orderness;
  return o;
}

recon::reconciler_options recon_options_from(const config::config& cfg) {
  recon::reconciler_options o;
  o.recount.max_validity_ms = cfg.signing.max_validity.count();
  o.recount.allowed_lateness_ms = cfg.aggregation.allowed_lateness.count();
  o.recount.max_out_of_orderness_ms = cfg.aggregation.max_out_of_orderness.count();
  o.recount.shards = effective_shards(cfg);
  if (cfg.log.backend == config::log_backend::kafka) {
    o.recount.watermark_partitions = static_cast<std::uint32_t>(cfg.log.partitions);
  }
  o.recount.max_read_rate = cfg.reconcile.max_read_rate;
  o.interval = cfg.reconcile.interval;
  o.lookback = cfg.reconcile.lookback;
  return o;
}

query::query_options query_options_from(const config::config& cfg) {
  query::query_options o;
  o.max_points = static_cast<std::uint64_t>(cfg.query.max_points);
  o.shards = effective_shards(cfg);
  o.allowed_lateness_ms = cfg.aggregation.allowed_lateness.count();
  if (cfg.log.backend == config::log_backend::kafka) o.watermark_partitions = static_cast<std::uint32_t>(cfg.log.partitions);
  return o;
}

result<std::vector<std::uint64_t>> committed_offsets(state::store& store, const config::config& cfg) {
  std::vector<std::uint64_t> out;
  for (int p = 0; p < cfg.log.partitions; ++p) {
    auto off = store.get_offset(static_cast<std::uint32_t>(p));
    if (!off) return off.error();
    out.push_back(off->value_or(0));
  }
  return out;
}

}  // namespace adclick::app
