// describe() and uses_demo_secrets(): what the server prints about its config.

#include <fmt/format.h>

#include <string>

#include "base/duration.h"
#include "base/size.h"
#include "config/config.h"
#include "config/config_text.h"

namespace adclick::config {
namespace {

constexpr std::string_view kMasked = "\"***\"";

// The secrets config/adclick.toml ships with. Keep in step with that file
// (a config test checks that the default config trips this detector).
constexpr std::string_view kDemoSigningKey = "0123456789abcdef0123456789abcdef";  // decoded k1
constexpr std::string_view kDemoAdminToken = "demo-admin-token-change-me";
constexpr std::string_view kDemoAdvertiserKey = "demo-key-for-adv-1";

// Appends TOML lines; unset optionals become comments, so the output lists
// every key and still parses as TOML.
class toml_writer {
 public:
  void table(std::string_view name) {
    if (!out_.empty()) out_ += '\n';
    out_ += fmt::format("[{}]\n", name);
  }
  void raw(std::string_view key, std::string_view value) {
    out_ += fmt::format("{} = {}\n", toml_key(key), value);
  }
  void str(std::string_view key, std::string_view value) { raw(key, quote_toml_string(value)); }
  void integer(std::string_view key, std::int64_t value) { raw(key, std::to_string(value)); }
  void duration(std::string_view key, std::chrono::milliseconds d) {
    str(key, base::format_duration(d));
  }
  void size(std::string_view key, std::uint64_t bytes) { str(key, base::format_size(bytes)); }
  void optional_str(std::string_view key, const std::optional<std::string>& value) {
    if (value) {
      str(key, *value);
    } else {
      out_ += fmt::format("# {} is not set\n", key);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

bool is_secret_kafka_property(std::string_view name) {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos || name == "ssl.key.pem" ||
         name == "sasl.oauthbearer.config";
}

std::string_view to_string(log_backend b) {
  switch (b) {
    case log_backend::embedded:
      return "embedded";
    case log_backend::kafka:
      return "kafka";
  }
  return "unknown";
}

std::string_view to_string(log_durability d) {
  switch (d) {
    case log_durability::sync:
      return "sync";
    case log_durability::os:
      return "os";
  }
  return "unknown";
}

std::string_view to_string(io_model m) {
  switch (m) {
    case io_model::per_thread:
      return "per_thread";
    case io_model::shared:
      return "shared";
  }
  return "unknown";
}

std::string_view to_string(log_level l) {
  switch (l) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
  }
  return "unknown";
}

// Long on purpose: one line per config key, in the file's order.
std::string describe(const config& c) {
  toml_writer w;

  w.table("server");
  w.str("listen", to_string(c.server.listen));
  w.integer("threads", c.server.threads);
  w.str("io_model", to_string(c.server.io));
  w.integer("max_connections", c.server.max_connections);
  w.duration("header_timeout", c.server.header_timeout);
  w.duration("idle_timeout", c.server.idle_timeout);
  w.size("max_header_size", c.server.max_header_size);
  w.size("max_body_size", c.server.max_body_size);
  if (c.server.hsts) {
    w.duration("hsts", *c.server.hsts);
  } else {
    w.optional_str("hsts", std::nullopt);
  }
  w.optional_str("tls_cert", c.server.tls_cert);
  w.optional_str("tls_key", c.server.tls_key);
  w.optional_str("redirect_listen", c.server.redirect_listen
                                        ? std::optional(to_string(*c.server.redirect_listen))
                                        : std::nullopt);

  w.table("storage");
  w.str("data_dir", c.storage.data_dir);
  w.optional_str("ads_file", c.storage.ads_file);
  w.optional_str("archive_dir", c.storage.archive_dir);

  w.table("log");
  w.str("backend", to_string(c.log.backend));
  w.integer("partitions", c.log.partitions);
  w.str("durability", to_string(c.log.durability));
  w.duration("retention", c.log.retention);
  w.size("segment_size", c.log.segment_size);
  w.duration("segment_age", c.log.segment_age);
  w.size("batch_max_bytes", c.log.batch_max_bytes);
  w.duration("batch_max_delay", c.log.batch_max_delay);
  w.size("preallocate", c.log.preallocate);
  w.size("journal_size", c.log.journal_size);
  w.duration("append_timeout", c.log.append_timeout);

  w.table("kafka");
  w.optional_str("bootstrap_servers", c.kafka.bootstrap_servers.empty()
                                          ? std::nullopt
                                          : std::optional(c.kafka.bootstrap_servers));
  w.str("topic", c.kafka.topic);
  w.str("counts_topic", c.kafka.counts_topic);
  w.str("group", c.kafka.group);
  if (c.kafka.properties.empty()) w.raw("properties", "{}");
  if (!c.kafka.properties.empty()) {
    w.table("kafka.properties");
    for (const auto& [name, value] : c.kafka.properties) {
      if (is_secret_kafka_property(name)) {
        w.raw(name, kMasked);
      } else {
        w.str(name, value);
      }
    }
  }

  w.table("node");
  w.optional_str("id", c.node.id.empty() ? std::nullopt : std::optional(c.node.id));
  std::string roles;
  for (const auto& [on, name] : {std::pair{c.node.roles.front, "front"},
                                 std::pair{c.node.roles.aggregate, "aggregate"},
                                 std::pair{c.node.roles.query, "query"}}) {
    if (on) roles += fmt::format("{}\"{}\"", roles.empty() ? "" : ", ", name);
  }
  w.raw("roles", "[" + roles + "]");

  w.table("signing");
  w.str("current_key", c.signing.current_key);
  w.duration("max_validity", c.signing.max_validity);
  if (c.signing.keys.empty()) w.raw("keys", "{}");

  if (!c.signing.keys.empty()) {
    w.table("signing.keys");
    for (const auto& [kid, key] : c.signing.keys) w.raw(kid, kMasked);
  }

  w.table("ingest");
  w.integer("hot_ad_rate", c.ingest.hot_ad_rate);
  w.integer("hot_fanout", c.ingest.hot_fanout);
  std::string hot_ads = "[";
  for (std::size_t i = 0; i < c.ingest.hot_ads.size(); ++i) {
    hot_ads += fmt::format("{}{}", i == 0 ? "" : ", ", c.ingest.hot_ads[i]);
  }
  w.raw("hot_ads", hot_ads + "]");
  w.size("ad_cache", c.ingest.ad_cache);

  w.table("aggregation");
  w.integer("shards", c.aggregation.shards);
  w.duration("flush_interval", c.aggregation.flush_interval);
  w.duration("allowed_lateness", c.aggregation.allowed_lateness);
  w.duration("max_out_of_orderness", c.aggregation.max_out_of_orderness);

  w.table("reconcile");
  w.duration("interval", c.reconcile.interval);
  w.duration("lookback", c.reconcile.lookback);
  w.size("max_read_rate", c.reconcile.max_read_rate);

  w.table("query");
  w.integer("max_points", c.query.max_points);

  w.table("auth");
  w.raw("admin_token", c.auth.admin_token.empty() ? "\"\"" : kMasked);
  if (c.auth.advertiser_keys.empty()) w.raw("advertiser_keys", "{}");
  if (!c.auth.advertiser_keys.empty()) {
    w.table("auth.advertiser_keys");
    for (const auto& [id, key] : c.auth.advertiser_keys) w.raw(id, kMasked);
  }

  w.table("logging");
  w.str("level", to_string(c.logging.level));
  return w.take();
}

bool uses_demo_secrets(const config& c) {
  for (const auto& [kid, key] : c.signing.keys) {
    if (key == kDemoSigningKey) return true;
  }
  for (const auto& [id, key] : c.auth.advertiser_keys) {
    if (key == kDemoAdvertiserKey) return true;
  }
  return c.auth.admin_token == kDemoAdminToken;
}

}  // namespace adclick::config
