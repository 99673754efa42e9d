// Parsing and validation of the TOML config. toml++ is confined to this
// file, so that config.h (included by every subsystem) stays light.

#include "config/config.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <set>

#include "base/base64.h"
#include "base/base_errc.h"
#include "base/duration.h"
#include "base/size.h"
#include "config/config_text.h"

namespace adclick::config {
namespace {

using std::chrono::milliseconds;

constexpr const char* kAdminTokenEnv = "ADCLICK_ADMIN_TOKEN";
constexpr std::string_view kEnvPrefix = "env:";
constexpr std::size_t kMinTokenLength = 16;
constexpr std::size_t kMinSigningKeyBytes = 16;
constexpr std::size_t kMaxKidLength = 32;
constexpr std::size_t kMaxAdvertiserIdLength = 64;
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kMaxNodeIdLength = 64;

// librdkafka properties adclick sets itself: what a 302 and a commit mean
// depends on them.
constexpr std::string_view kOwnKafkaProperties[] = {
    "bootstrap.servers", "metadata.broker.list", "group.id", "enable.idempotence",
    "acks", "request.required.acks", "enable.auto.commit", "enable.auto.offset.store",
    "auto.offset.reset", "isolation.level", "transactional.id", "partitioner"};

// Checks one property against librdkafka's own list and rules. Empty when
// it is accepted, else what is wrong.
std::string check_kafka_property(const std::string& name, const std::string& value) {
  std::unique_ptr<rd_kafka_conf_t, void (*)(rd_kafka_conf_t*)> conf(rd_kafka_conf_new(),
                                                                     &rd_kafka_conf_destroy);
  char why[512] = {0};
  switch (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), why, sizeof why)) {
    case RD_KAFKA_CONF_OK:
      return {};
    case RD_KAFKA_CONF_UNKNOWN:
      return "librdkafka has no such property";
    case RD_KAFKA_CONF_INVALID:
      break;
  }
  std::string text = why;
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text.empty() ? std::string("librdkafka refuses the value") : text;
}

// Every table and key the config knows. Keys of signing.keys and
// auth.advertiser_keys are ids chosen by the user, validated on their own.
struct table_schema {
  std::string_view table;
  std::initializer_list<std::string_view> keys;
};

const table_schema kSchema[] = {
    {"server",
     {"listen", "threads", "io_model", "max_connections", "header_timeout", "idle_timeout", "max_header_size",
      "max_body_size", "tls_cert", "tls_key", "redirect_listen", "hsts"}},
    {"storage", {"data_dir", "ads_file", "archive_dir"}},
    {"log",
     {"backend", "partitions", "durability", "retention", "segment_size", "segment_age", "batch_max_bytes",
      "batch_max_delay", "preallocate", "journal_size", "append_timeout"}},
    {"kafka", {"bootstrap_servers", "topic", "counts_topic", "group", "properties"}},
    {"node", {"id", "roles"}},
    {"signing", {"current_key", "keys", "max_validity"}},
    {"ingest", {"hot_ad_rate", "hot_fanout", "hot_ads", "ad_cache"}},
    {"aggregation", {"shards", "flush_interval", "allowed_lateness", "max_out_of_orderness"}},
    {"reconcile", {"interval", "lookback", "max_read_rate"}},
    {"query", {"max_points"}},
    {"auth", {"admin_token", "advertiser_keys"}},
    {"logging", {"level"}},
};

const table_schema* find_table(std::string_view name) {
  for (const auto& t : kSchema) {
    if (t.table == name) return &t;
  }
  return nullptr;
}

// What a user wrote, for "(got ...)": strings quoted, long ones cut, and
// never a line break, so that the error stays one line.
std::string show(const toml::node& node) {
  if (const auto* s = node.as_string()) return quote_toml_string(s->get(), 64);
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  return "a date/time";
}

bool matches_id(std::string_view id, std::size_t max_length, std::string_view extra) {
  if (id.empty() || id.size() > max_length) return false;
  return std::all_of(id.begin(), id.end(), [extra](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

// Bearer tokens travel in an HTTP header: visible ASCII only, no spaces.
bool is_token_text(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::string duration_rule(milliseconds lo, std::optional<milliseconds> hi) {
  std::string rule = "must be a duration (integer + ms|s|m|h|d) ";
  if (hi) return rule + "from " + base::format_duration(lo) + " to " + base::format_duration(*hi);
  return rule + "of at least " + base::format_duration(lo);
}

std::string size_rule(std::uint64_t lo, std::optional<std::uint64_t> hi) {
  std::string rule = "must be a size (integer + B|KiB|MiB|GiB|TiB) ";
  if (hi) return rule + "from " + base::format_size(lo) + " to " + base::format_size(*hi);
  return rule + "of at least " + base::format_size(lo);
}

std::string int_rule(std::int64_t lo, std::int64_t hi) {
  if (hi == kInt64Max) return fmt::format("must be an integer of at least {}", lo);
  return fmt::format("must be an integer from {} to {}", lo, hi);
}

// Reads one document into a config. The first failure wins: it is recorded
// in ec_/error_line_ and every later failure is ignored, so the caller gets
// exactly one line. Readers leave the default in place on failure.
class parser {
 public:
  parser(const toml::table& root, std::string_view source, std::string& error_line,
         const env_lookup& env)
      : root_(root), source_(source), error_line_(error_line), env_(env) {}

  // Fills `c` from the document; returns the first failure, if any.
  std::error_code run(config& c) {
    check_unknown();
    if (failed()) return ec_;
    read_server(c.server);
    read_storage(c.storage);
    read_log(c.log);
    read_kafka(c.kafka);
    read_node(c.node);
    read_signing(c.signing);
    read_ingest(c.ingest);
    read_aggregation(c.aggregation);
    read_reconcile(c.reconcile);
    read_query(c.query);
    read_auth(c.auth);
    read_logging(c.logging);
    if (!failed()) check_across(c);
    return ec_;
  }

 private:
  bool failed() const { return static_cast<bool>(ec_); }

  void fail_line(config_errc code, std::string line) {
    if (failed()) return;
    ec_ = make_error_code(code);
    error_line_ = fmt::format("config {}: {}", source_, line);
  }

  void fail(config_errc code, std::string_view key, std::string_view what) {
    fail_line(code, fmt::format("{}: {}", key, what));
  }

  void fail_value(std::string_view key, std::string_view rule, const toml::node& got) {
    fail(config_errc::invalid_value, key, fmt::format("{} (got {})", rule, show(got)));
  }

  // Unknown tables and keys come first: a typo is the likeliest mistake,
  // and naming it beats complaining about a value that is missing because
  // of it.
  void check_unknown() {
    for (const auto& [key, node] : root_) {
      const auto* schema = find_table(key.str());
      if (schema == nullptr) {
        fail_line(
            config_errc::unknown_key,
            fmt::format("unknown {} '{}'", node.is_table() ? "table" : "key", toml_key(key.str())));
        return;
      }
      const auto* table = node.as_table();
      if (table == nullptr) {
        fail_value(toml_key(key.str()), "must be a table", node);
        return;
      }
      for (const auto& [sub, sub_node] : *table) {
        const auto& known = schema->keys;
        if (std::find(known.begin(), known.end(), sub.str()) == known.end()) {
          fail_line(config_errc::unknown_key,
                    fmt::format("unknown {} '{}'", sub_node.is_table() ? "table" : "key",
                                path(schema->table, sub.str())));
          return;
        }
      }
    }
  }

  static std::string path(std::string_view table, std::string_view key) {
    return fmt::format("{}.{}", table, toml_key(key));
  }

  // The node of table.key, or nullptr when it is absent.
  const toml::node* find(std::string_view table, std::string_view key) const {
    const auto* t = root_.get_as<toml::table>(table);
    return t == nullptr ? nullptr : t->get(key);
  }

  // The table at table.key (a table of user-chosen keys), or nullptr when
  // it is absent or not a table (then the failure names `rule`).
  const toml::table* find_table_value(std::string_view table, std::string_view key, std::string_view rule) {
    const auto* node = find(table, key);
    if (node == nullptr) return nullptr;
    const auto* t = node->as_table();
    if (t == nullptr) fail_value(path(table, key), rule, *node);
    return t;
  }

  template <class Int>
  void read_int(std::string_view table, std::string_view key, std::int64_t lo, std::int64_t hi,
                Int& out) {
    const auto* node = find(table, key);
    if (node == nullptr) return;
    const auto* i = node->as_integer();
    if (i == nullptr || i->get() < lo || i->get() > hi) {
      fail_value(path(table, key), int_rule(lo, hi), *node);
      return;
    }
    out = static_cast<Int>(i->get());
  }

  void read_duration(std::string_view table, std::string_view key, milliseconds lo,
                     std::optional<milliseconds> hi, milliseconds& out) {
    const auto* node = find(table, key);
    if (node == nullptr) return;
    const auto* s = node->as_string();
    const auto d = s == nullptr ? result<milliseconds>(base::base_errc::invalid_duration)
                                : base::parse_duration(s->get());
    if (!d || *d < lo || (hi && *d > *hi)) {
      fail_value(path(table, key), duration_rule(lo, hi), *node);
      return;
    }
    out = *d;
  }

  void read_size(std::string_view table, std::string_view key, std::uint64_t lo,
                 std::optional<std::uint64_t> hi, std::uint64_t& out) {
    const auto* node = find(table, key);
    if (node == nullptr) return;
    const auto* s = node->as_string();
    const auto n = s == nullptr ? result<std::uint64_t>(base::base_errc::invalid_size)
                                : base::parse_size(s->get());
    if (!n || *n < lo || (hi && *n > *hi)) {
      fail_value(path(table, key), size_rule(lo, hi), *node);
      return;
    }
    out = *n;
  }

  // A non-empty string (a path or a name).
  void read_string(std::string_view table, std::string_view key, std::string& out) {
    const auto* node = find(table, key);
    if (node == nullptr) return;
    const auto* s = node->as_string();
    if (s == nullptr || s->get().empty()) {
      fail_value(path(table, key), "must be a non-empty string", *node);
      return;
    }
    out = s->get();
  }

  void read_string(std::string_view table, std::string_view key, std::optional<std::string>& out) {
    std::string value;
    read_string(table, key, value);
    if (!value.empty()) out = std::move(value);
  }

  void read_endpoint(std::string_view table, std::string_view key, std::optional<endpoint>& out) {
    const auto* node = find(table, key);
    if (node == nullptr) return;
    const auto* s = node->as_string();
    auto e = s == nullptr ? std::nullopt : parse_endpoint(s->get());
    if (!e) {
      fail_value(path(table, key),
                 "must be \"host:port\" with host an IPv4 address, [IPv6 address] or localhost "
                 "and port from 0 to 65535",
                 *node);
      return;
    }
    out = std::move(e);
  }

  template <class Enum, std::size_t N>
  void read_enum(std::string_view table, std::string_view key,
                 const std::pair<std::string_view, Enum> (&choices)[N], Enum& out) {
    const auto* node = find(table, key);
    if (node == nullptr) return;
    if (const auto* s = node->as_string()) {
      for (const auto& [name, value] : choices) {
        if (s->get() == name) {
          out = value;
          return;
        }
      }
    }
    std::string rule = "must be one of";
    for (std::size_t i = 0; i < N; ++i) {
      rule += fmt::format("{}\"{}\"", i == 0 ? " " : ", ", choices[i].first);
    }
    fail_value(path(table, key), rule, *node);
  }

  // A secret: a string, or "env:NAME" for the value of variable NAME.
  // `label` names it in errors; the value itself is never shown.
  std::optional<std::string> read_secret(std::string_view label, const toml::node& node) {
    const auto* s = node.as_string();
    if (s == nullptr) {
      // Not a string, so not a secret a user meant to hide: safe to show.
      fail_value(label, "must be a string (or \"env:NAME\")", node);
      return std::nullopt;
    }
    const std::string& text = s->get();
    if (text.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) return text;
    const std::string name = text.substr(kEnvPrefix.size());
    if (name.empty() || name.find('=') != std::string::npos) {
      fail(config_errc::invalid_value, label,
           "\"env:NAME\" needs the name of an environment variable after \"env:\"");
      return std::nullopt;
    }
    const char* value = env_(name.c_str());
    if (value == nullptr) {
      fail(config_errc::missing_value, label,
           fmt::format("environment variable {} is not set", name));
      return std::nullopt;
    }
    return std::string(value);
  }

  void read_server(server_options& o) {
    constexpr std::string_view t = "server";
    std::optional<endpoint> listen;
    read_endpoint(t, "listen", listen);
    if (listen) o.listen = *listen;
    read_int(t, "threads", 1, 256, o.threads);
    static const std::pair<std::string_view, io_model> kModels[] = {
        {"per_thread", io_model::per_thread}, {"shared", io_model::shared}};
    read_enum(t, "io_model", kModels, o.io);
    read_int(t, "max_connections", 1, 1000000, o.max_connections);
    read_duration(t, "header_timeout", milliseconds(1), std::nullopt, o.header_timeout);
    read_duration(t, "idle_timeout", milliseconds(1), std::nullopt, o.idle_timeout);
    read_size(t, "max_header_size", base::kKiB, base::kMiB, o.max_header_size);
    read_size(t, "max_body_size", base::kKiB, 64 * base::kMiB, o.max_body_size);
    read_string(t, "tls_cert", o.tls_cert);
    read_string(t, "tls_key", o.tls_key);
    read_endpoint(t, "redirect_listen", o.redirect_listen);
    if (find(t, "hsts") != nullptr) {
      milliseconds max_age{0};
      read_duration(t, "hsts", milliseconds(0), milliseconds(std::chrono::hours(24 * 365 * 2)), max_age);
      o.hsts = max_age;
    }
  }

  void read_storage(storage_options& o) {
    constexpr std::string_view t = "storage";
    read_string(t, "data_dir", o.data_dir);
    read_string(t, "ads_file", o.ads_file);
    read_string(t, "archive_dir", o.archive_dir);
  }

  void read_log(log_options& o) {
    constexpr std::string_view t = "log";
    static const std::pair<std::string_view, log_durability> kDurability[] = {
        {"sync", log_durability::sync}, {"os", log_durability::os}};
    static const std::pair<std::string_view, log_backend> kBackends[] = {
        {"embedded", log_backend::embedded}, {"kafka", log_backend::kafka}};
    read_enum(t, "backend", kBackends, o.backend);
    read_int(t, "partitions", 1, 4096, o.partitions);
    read_enum(t, "durability", kDurability, o.durability);
    read_duration(t, "retention", std::chrono::minutes(1), std::nullopt, o.retention);
    read_size(t, "segment_size", 4 * base::kKiB, 4 * base::kGiB, o.segment_size);
    read_duration(t, "segment_age", std::chrono::seconds(1), std::nullopt, o.segment_age);
    read_size(t, "batch_max_bytes", 4 * base::kKiB, 256 * base::kMiB, o.batch_max_bytes);
    read_duration(t, "batch_max_delay", milliseconds(0), std::chrono::seconds(1),
                  o.batch_max_delay);
    read_size(t, "preallocate", 0, base::kGiB, o.preallocate);
    read_size(t, "journal_size", 64 * base::kKiB, base::kGiB, o.journal_size);
    read_duration(t, "append_timeout", milliseconds(10), std::chrono::minutes(10), o.append_timeout);
  }

  void read_kafka(kafka_options& o) {
    constexpr std::string_view t = "kafka";
    read_string(t, "bootstrap_servers", o.bootstrap_servers);
    read_string(t, "topic", o.topic);
    read_string(t, "counts_topic", o.counts_topic);
    read_string(t, "group", o.group);
    for (const auto* name : {&o.topic, &o.counts_topic}) {
      // Kafka's own rule for topic names.
      if (!matches_id(*name, 249, "._-")) {
        fail(config_errc::invalid_value, path(t, name == &o.topic ? "topic" : "counts_topic"),
             fmt::format("must be 1 to 249 characters of A-Z a-z 0-9 . _ - (got {})",
                         quote_toml_string(*name, 64)));
        return;
      }
    }
    const auto* props = find_table_value(t, "properties", "must be a table of \"librdkafka.property\" = value");
    if (props == nullptr) return;
    for (const auto& [key, value] : *props) {
      const std::string name(key.str());
      const std::string label = path("kafka.properties", name);
      if (std::find(std::begin(kOwnKafkaProperties), std::end(kOwnKafkaProperties), name) !=
          std::end(kOwnKafkaProperties)) {
        fail(config_errc::invalid_value, label,
             "adclick sets this property itself (see docs/config-reference.md, [kafka])");
        return;
      }
      std::string text;
      if (const auto* i = value.as_integer()) {
        text = std::to_string(i->get());
      } else if (const auto* b = value.as_boolean()) {
        text = b->get() ? "true" : "false";
      } else if (value.is_string()) {
        auto secret = read_secret(label, value);
        if (!secret) return;
        text = std::move(*secret);
      } else {
        fail_value(label, "must be a string, an integer or a boolean", value);
        return;
      }
      if (auto why = check_kafka_property(name, text); !why.empty()) {
        // librdkafka's message may quote the value: not for a secret.
        if (is_secret_kafka_property(name)) why = "librdkafka refuses the value";
        fail(config_errc::invalid_value, label, why);
        return;
      }
      o.properties.emplace(name, std::move(text));
    }
  }

  void read_node(node_options& o) {
    constexpr std::string_view t = "node";
    read_string(t, "id", o.id);
    if (!o.id.empty() && !matches_id(o.id, kMaxNodeIdLength, "._-")) {
      fail(config_errc::invalid_value, "node.id",
           fmt::format("must be 1 to 64 characters of A-Z a-z 0-9 . _ - (got {})",
                       quote_toml_string(o.id, 64)));
      return;
    }
    const auto* node = find(t, "roles");
    if (node == nullptr) return;
    constexpr std::string_view rule =
        "must be a non-empty array of distinct roles from \"front\", \"aggregate\", \"query\"";
    const auto* roles = node->as_array();
    if (roles == nullptr || roles->empty()) {
      fail_value("node.roles", rule, *node);
      return;
    }
    node_roles r{false, false, false};
    for (std::size_t i = 0; i < roles->size(); ++i) {
      const auto& element = *roles->get(i);
      const auto* s = element.as_string();
      bool* slot = nullptr;
      if (s != nullptr && s->get() == "front") slot = &r.front;
      if (s != nullptr && s->get() == "aggregate") slot = &r.aggregate;
      if (s != nullptr && s->get() == "query") slot = &r.query;
      if (slot == nullptr || *slot) {
        fail_value(fmt::format("node.roles[{}]", i), rule, element);
        return;
      }
      *slot = true;
    }
    o.roles = r;
  }

  void read_signing(signing_options& o) {
    constexpr std::string_view t = "signing";
    read_string(t, "current_key", o.current_key);
    read_duration(t, "max_validity", std::chrono::seconds(1), std::chrono::hours(30 * 24),
                  o.max_validity);
    const auto* keys = find_table_value(t, "keys", "must be a table of key id = \"base64 key\"");
    if (keys == nullptr) return;
    for (const auto& [kid_key, value] : *keys) {
      const std::string_view kid = kid_key.str();
      const std::string label = path("signing.keys", kid);
      if (!matches_id(kid, kMaxKidLength, "_-")) {
        fail(config_errc::invalid_value, "signing.keys",
             fmt::format("key id {} must be 1 to 32 characters of A-Z a-z 0-9 _ -",
                         quote_toml_string(kid, 64)));
        return;
      }
      const auto secret = read_secret(label, value);
      if (!secret) return;
      auto bytes = base::decode_base64(*secret);
      if (!bytes) {
        fail(config_errc::invalid_value, label,
             "must be standard base64 (A-Z a-z 0-9 + /, padded with =) of the raw key bytes");
        return;
      }
      if (bytes->size() < kMinSigningKeyBytes) {
        fail(config_errc::invalid_value, label,
             fmt::format("key must be at least {} bytes (got {})", kMinSigningKeyBytes,
                         bytes->size()));
        return;
      }
      o.keys.emplace(std::string(kid), std::move(*bytes));
    }
  }

  void read_ingest(ingest_options& o) {
    constexpr std::string_view t = "ingest";
    read_int(t, "hot_ad_rate", 1, kInt64Max, o.hot_ad_rate);
    // The upper bound log.partitions is checked in check_across.
    read_int(t, "hot_fanout", 1, 4096, o.hot_fanout);
    read_size(t, "ad_cache", base::kMiB, base::kTiB, o.ad_cache);
    const auto* node = find(t, "hot_ads");
    if (node == nullptr) return;
    const auto* ads = node->as_array();
    if (ads == nullptr) {
      fail_value("ingest.hot_ads", "must be an array of ad ids", *node);
      return;
    }
    std::set<std::uint64_t> seen;
    for (std::size_t i = 0; i < ads->size(); ++i) {
      const auto& element = *ads->get(i);
      const auto* id = element.as_integer();
      if (id == nullptr || id->get() < 1) {
        fail_value(fmt::format("ingest.hot_ads[{}]", i), int_rule(1, kInt64Max), element);
        return;
      }
      const auto ad = static_cast<std::uint64_t>(id->get());
      if (!seen.insert(ad).second) {
        fail(config_errc::invalid_value, fmt::format("ingest.hot_ads[{}]", i),
             fmt::format("ad id {} is listed twice", ad));
        return;
      }
      o.hot_ads.push_back(ad);
    }
  }

  void read_aggregation(aggregation_options& o) {
    constexpr std::string_view t = "aggregation";
    // The bound log.partitions is checked in check_across.
    read_int(t, "shards", 1, 256, o.shards);
    read_duration(t, "flush_interval", milliseconds(10), std::chrono::hours(1), o.flush_interval);
    read_duration(t, "allowed_lateness", milliseconds(0), std::chrono::hours(24),
                  o.allowed_lateness);
    read_duration(t, "max_out_of_orderness", milliseconds(0), std::chrono::hours(1),
                  o.max_out_of_orderness);
  }

  void read_reconcile(reconcile_options& o) {
    constexpr std::string_view t = "reconcile";
    read_duration(t, "interval", std::chrono::seconds(1), std::nullopt, o.interval);
    read_duration(t, "lookback", std::chrono::minutes(1), std::nullopt, o.lookback);
    read_size(t, "max_read_rate", base::kMiB, std::nullopt, o.max_read_rate);
  }

  void read_query(query_options& o) { read_int("query", "max_points", 1, 10000000, o.max_points); }

  // `label` names the source in errors, e.g. "auth.admin_token (from
  // ADCLICK_ADMIN_TOKEN)"; the token itself is never shown.
  bool check_token(std::string_view label, const std::string& token) {
    if (token.size() < kMinTokenLength || !is_token_text(token)) {
      fail(config_errc::invalid_value, label,
           fmt::format("must be at least {} characters, printable ASCII without spaces "
                       "(got {} characters)",
                       kMinTokenLength, token.size()));
      return false;
    }
    return true;
  }

  void read_auth(auth_options& o) {
    constexpr std::string_view t = "auth";
    // The environment overrides the file; the file's value must still be
    // well-typed, but its own env: reference is not followed then.
    const auto* admin = find(t, "admin_token");
    if (const char* from_env = env_(kAdminTokenEnv)) {
      if (admin != nullptr && !admin->is_string()) {
        fail_value("auth.admin_token", "must be a string (or \"env:NAME\")", *admin);
        return;
      }
      o.admin_token = from_env;
      if (!check_token(fmt::format("auth.admin_token (from {})", kAdminTokenEnv), o.admin_token)) {
        return;
      }
    } else if (admin != nullptr) {
      auto token = read_secret("auth.admin_token", *admin);
      if (!token) return;
      o.admin_token = std::move(*token);
      if (!check_token("auth.admin_token", o.admin_token)) return;
    }

    const auto* keys = find_table_value(t, "advertiser_keys", "must be a table of advertiser id = \"key\"");
    if (keys == nullptr) return;
    for (const auto& [id_key, value] : *keys) {
      const std::string_view id = id_key.str();
      const std::string label = path("auth.advertiser_keys", id);
      if (!matches_id(id, kMaxAdvertiserIdLength, "._-")) {
        fail(config_errc::invalid_value, "auth.advertiser_keys",
             fmt::format("advertiser id {} must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
                         quote_toml_string(id, 64)));
        return;
      }
      auto key = read_secret(label, value);
      if (!key || !check_token(label, *key)) return;
      o.advertiser_keys.emplace(std::string(id), std::move(*key));
    }
  }

  void read_logging(logging_options& o) {
    static const std::pair<std::string_view, log_level> kLevels[] = {{"trace", log_level::trace},
                                                                     {"debug", log_level::debug},
                                                                     {"info", log_level::info},
                                                                     {"warn", log_level::warn},
                                                                     {"error", log_level::error}};
    read_enum("logging", "level", kLevels, o.level);
  }

  // Rules that involve more than one key; run only on an otherwise valid config.
  void check_across(config& c) {
    const auto& s = c.server;
    if (s.tls_cert.has_value() != s.tls_key.has_value()) {
      const bool cert = s.tls_cert.has_value();
      fail(
          config_errc::missing_value, cert ? "server.tls_key" : "server.tls_cert",
          fmt::format("must be set together with {}", cert ? "server.tls_cert" : "server.tls_key"));
      return;
    }
    if (s.redirect_listen && !s.tls_cert) {
      fail(config_errc::invalid_value, "server.redirect_listen",
           "redirects to HTTPS, so it needs server.tls_cert and server.tls_key");
      return;
    }
    if (s.hsts && !s.tls_cert) {
      fail(config_errc::invalid_value, "server.hsts",
           "is sent only over HTTPS (browsers ignore it over plain HTTP), so it needs server.tls_cert and "
           "server.tls_key");
      return;
    }
    // A default that the chosen partition count cannot honour shrinks to
    // fit; a value the user wrote is refused instead.
    if (find("ingest", "hot_fanout") == nullptr) {
      c.ingest.hot_fanout = std::min(c.ingest.hot_fanout, c.log.partitions);
    }
    if (find("aggregation", "shards") == nullptr) {
      c.aggregation.shards = std::min(c.aggregation.shards, c.log.partitions);
    }
    if (c.ingest.hot_fanout > c.log.partitions) {
      fail(config_errc::invalid_value, "ingest.hot_fanout",
           fmt::format("must be an integer from 1 to log.partitions ({}) (got {})",
                       c.log.partitions, c.ingest.hot_fanout));
      return;
    }
    if (c.aggregation.shards > c.log.partitions) {
      fail(config_errc::invalid_value, "aggregation.shards",
           fmt::format("must be an integer from 1 to log.partitions ({}) (got {})",
                       c.log.partitions, c.aggregation.shards));
      return;
    }
    if (!check_backend(c)) return;
    // A config with its secrets left out (the packaged one): one line names
    // them all.
    std::vector<std::string_view> unset;
    if (c.signing.keys.empty()) unset.push_back("signing.keys");
    if (c.signing.current_key.empty()) unset.push_back("signing.current_key");
    if (c.auth.admin_token.empty()) unset.push_back("auth.admin_token");
    if (unset.size() > 1) {
      fail(config_errc::missing_value, fmt::format("{}", fmt::join(unset, ", ")),
           fmt::format(
               "secrets not set; give each a value (or \"env:NAME\"; {} for the admin token) "
               "and start again",
               kAdminTokenEnv));
      return;
    }
    if (c.signing.keys.empty()) {
      fail(config_errc::missing_value, "signing.keys",
           "at least one key is required, e.g. keys = { k1 = \"<base64 of 32 random bytes>\" }");
      return;
    }
    if (c.signing.current_key.empty()) {
      fail(config_errc::missing_value, "signing.current_key",
           "is required: the id of the key in signing.keys that signs new clicks");
      return;
    }
    if (c.signing.keys.count(c.signing.current_key) == 0) {
      fail(config_errc::invalid_value, "signing.current_key",
           fmt::format("must name a key in signing.keys (got {})",
                       quote_toml_string(c.signing.current_key, 64)));
      return;
    }
    if (c.auth.admin_token.empty()) {
      fail(config_errc::missing_value, "auth.admin_token",
           fmt::format("is required (set it in the config or in the environment variable {})",
                       kAdminTokenEnv));
      return;
    }
    // Keys are bearer tokens: one must identify exactly one principal.
    std::map<std::string_view, std::string_view> owner_of_key;
    for (const auto& [id, key] : c.auth.advertiser_keys) {
      const std::string label = path("auth.advertiser_keys", id);
      if (key == c.auth.admin_token) {
        fail(config_errc::invalid_value, label, "must differ from auth.admin_token");
        return;
      }
      const auto [it, inserted] = owner_of_key.emplace(key, id);
      if (!inserted) {
        fail(config_errc::invalid_value, label,
             fmt::format("must differ from the key of advertiser {}",
                         quote_toml_string(it->second, 64)));
        return;
      }
    }
  }

  bool check_backend(const config& c) {
    if (c.log.backend == log_backend::embedded) {
      if (!(c.node.roles == node_roles{})) {
        fail(config_errc::invalid_value, "node.roles",
             "the embedded log serves one process, which does every role; split the roles "
             "over several nodes with log.backend = \"kafka\"");
        return false;
      }
      return true;
    }
    if (c.kafka.bootstrap_servers.empty()) {
      fail(config_errc::missing_value, "kafka.bootstrap_servers",
           "is required with log.backend = \"kafka\", e.g. \"broker1:9092,broker2:9092\"");
      return false;
    }
    if (c.node.id.empty()) {
      fail(config_errc::missing_value, "node.id",
           "is required with log.backend = \"kafka\": a name unique among the nodes, e.g. "
           "\"node-1\"");
      return false;
    }
    if (c.kafka.topic == c.kafka.counts_topic) {
      fail(config_errc::invalid_value, "kafka.counts_topic", "must differ from kafka.topic");
      return false;
    }
    if (c.storage.archive_dir) {
      fail(config_errc::invalid_value, "storage.archive_dir",
           "archives the embedded log's segments; with log.backend = \"kafka\" the topic's retention "
           "(retention.ms) decides what is kept");
      return false;
    }
    return true;
  }

  // All constant after construction, except the first failure.
  const toml::table& root_;
  std::string_view source_;
  std::string& error_line_;
  const env_lookup& env_;
  std::error_code ec_;
};

std::string one_line(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return out;
}

}  // namespace

const env_lookup& process_env() {
  // getenv is not thread-safe against setenv; adclick never calls setenv.
  static const env_lookup kEnv = [](const char* name) -> const char* {
    return std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  };
  return kEnv;
}

result<config> parse_config(std::string_view toml_text, std::string_view source_name,
                            std::string& error_line, const env_lookup& env) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    error_line = fmt::format("config {}: line {}: {}", source_name, e.source().begin.line,
                             one_line(e.description()));
    return config_errc::syntax;
  }
  config c;
  if (const auto ec = parser(root, source_name, error_line, env).run(c)) return ec;
  return c;
}

result<config> load_config_file(const std::string& path, std::string& error_line,
                                const env_lookup& env) {
  // stdio rather than iostreams: it reports why a read failed (errno), e.g.
  // EISDIR when the path is a directory.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    error_line = fmt::format("config {}: cannot open: {}", path, std::generic_category().message(errno));
    return config_errc::io;
  }
  std::string text;
  char buffer[16 * 1024];
  while (true) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (n < sizeof buffer) break;
  }
  if (std::ferror(file.get())) {
    error_line = fmt::format("config {}: cannot read: {}", path, std::generic_category().message(errno));
    return config_errc::io;
  }
  return parse_config(text, path, error_line, env);
}

}  // namespace adclick::config
