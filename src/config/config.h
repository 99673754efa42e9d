#pragma once
// The adclick configuration: one struct per TOML table, every member holding
// its documented default, and the parser that fills it from a TOML file.
// docs/config-reference.md describes each key for users; config/adclick.toml
// is the default file, embedded into the binary (default_config_text()).
//
// A config is a plain value: it is built once at startup, validated as a
// whole, and then read (never written) by the subsystems, from any thread.
// Members mirror the TOML keys, so they carry no trailing underscore.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adclick/result.h"
#include "config/config_errc.h"
#include "config/endpoint.h"

namespace adclick::config {

// How the I/O threads share the connections (see http::server_options).
enum class io_model {
  per_thread,  // an io_context and an SO_REUSEPORT acceptor per thread
  shared,      // one io_context run by every thread, a strand per connection
};

// [server]: the HTTP front end.
struct server_options {
  endpoint listen{"127.0.0.1", 8080};
  int threads = 2;              // io threads, 1..256
  io_model io = io_model::per_thread;
  int max_connections = 10000;  // 1..1000000
  // > 0: the whole request head must arrive within it.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // > 0: a keep-alive connection without a request for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::uint64_t max_header_size = 8 * 1024;   // bytes, 1KiB..1MiB
  std::uint64_t max_body_size = 1024 * 1024;  // bytes, 1KiB..64MiB
  // TLS: both set or both unset (validated). Paths are used as written.
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  // Optional second listener (plain HTTP that redirects to the main one).
  std::optional<endpoint> redirect_listen;
  // HTTPS only: every response carries Strict-Transport-Security with this
  // max-age (whole seconds); unset: no such header.
  std::optional<std::chrono::milliseconds> hsts;
};

// [storage]: where state lives on disk. Relative paths are relative to the
// server's working directory.
struct storage_options {
  std::string data_dir = "./data";         // non-empty
  std::optional<std::string> ads_file;     // CSV of ads to bulk-load
  std::optional<std::string> archive_dir;  // where expired segments go
};

// Where the click log lives.
enum class log_backend {
  embedded,  // segment files in storage.data_dir: one host
  kafka,     // a Kafka topic ([kafka]): several nodes
};

enum class log_durability {
  sync,  // 302 after fdatasync of the record
  os,    // 302 after write(2): survives a process crash, not a power loss
};

// [log]: the partitioned click log. With backend "kafka" only partitions
// (the topic's partition count, checked at start) and append_timeout apply;
// the rest describe the embedded log's files.
struct log_options {
  log_backend backend = log_backend::embedded;
  int partitions = 8;  // 1..4096
  log_durability durability = log_durability::sync;
  std::chrono::milliseconds retention{std::chrono::hours(7 * 24)};  // >= 1m
  std::uint64_t segment_size = 64ULL * 1024 * 1024;                 // bytes, 4KiB..4GiB
  std::chrono::milliseconds segment_age{std::chrono::hours(1)};     // >= 1s
  std::uint64_t batch_max_bytes = 1024 * 1024;                      // bytes, 4KiB..256MiB
  // 0..1s: how long a group commit may linger to gather a batch.
  std::chrono::milliseconds batch_max_delay{std::chrono::milliseconds(0)};
  // 0..1GiB: zeros kept written ahead of the active segment's data (0: off).
  std::uint64_t preallocate = 2 * 1024 * 1024;
  // 64KiB..1GiB: each of the two commit journal files (durability "sync").
  std::uint64_t journal_size = 32ULL * 1024 * 1024;
  // 10ms..10m: a click still waiting to be written this long after it
  // arrived is answered as `unrecorded` and never written.
  std::chrono::milliseconds append_timeout{std::chrono::seconds(5)};
};

// [kafka]: the Kafka backend (log.backend = "kafka").
struct kafka_options {
  std::string bootstrap_servers;  // "host:port,..."; required with backend "kafka"
  std::string topic = "clicks";   // the click log
  std::string counts_topic = "adclick-counts";  // absolute partial counts
  std::string group = "adclick";  // the aggregators' consumer group
  // Passed to librdkafka as written (TLS, SASL, timeouts), after adclick's
  // own settings; each is checked by librdkafka when the config is read.
  // The ones adclick must set itself (acks, idempotence, group, offsets
  // handling) are refused. Values may be "env:NAME".
  std::map<std::string, std::string> properties;
};

// What a node does (any non-empty set). With the embedded log, a node does
// all three.
struct node_roles {
  bool front = true;      // /click: verify, produce, 302
  bool aggregate = true;  // the speed and batch layers over its partitions
  bool query = true;      // the query API and dashboard, over the counts topic
  bool operator==(const node_roles&) const = default;
};

// [node]: this process among several on one Kafka cluster.
struct node_options {
  // Unique per node, 1 to 64 of A-Z a-z 0-9 . _ -; required with backend
  // "kafka" (it names the node to the brokers and in its partial counts).
  std::string id;
  node_roles roles;
};

// [signing]: click signature keys.
struct signing_options {
  std::string current_key;                  // names an entry of `keys` (required)
  std::map<std::string, std::string> keys;  // kid -> raw key bytes (>= 16), at least one
  std::chrono::milliseconds max_validity{std::chrono::hours(24)};  // 1s..30d
};

// [ingest]: click processing; hot ads are salted over several partitions.
struct ingest_options {
  std::int64_t hot_ad_rate = 5000;  // clicks/s that make an ad hot, >= 1
  // Partitions per hot ad, 1..log.partitions; when left out of the file it
  // shrinks to log.partitions if that is smaller.
  int hot_fanout = 4;
  std::vector<std::uint64_t> hot_ads;  // always hot; each in [1, 2^63), no duplicates
  // Memory for cached ad records (the rest stay in RocksDB), 1MiB..1TiB.
  std::uint64_t ad_cache = 256ull << 20;
};

// [aggregation]: the speed layer.
struct aggregation_options {
  // 1..256 and <= log.partitions; when left out of the file it shrinks to
  // log.partitions if that is smaller.
  int shards = 2;
  std::chrono::milliseconds flush_interval{std::chrono::seconds(1)};        // 10ms..1h
  std::chrono::milliseconds allowed_lateness{std::chrono::seconds(60)};     // 0..1d
  std::chrono::milliseconds max_out_of_orderness{std::chrono::seconds(5)};  // 0..1h
};

// [reconcile]: the batch layer.
struct reconcile_options {
  std::chrono::milliseconds interval{std::chrono::hours(1)};   // >= 1s
  std::chrono::milliseconds lookback{std::chrono::hours(24)};  // >= 1m
  std::uint64_t max_read_rate = 256ULL * 1024 * 1024;          // bytes/s, >= 1MiB
};

// [query]
struct query_options {
  int max_points = 100000;  // points per answer, 1..10000000
};

// [auth]: bearer tokens of the query and admin APIs.
struct auth_options {
  std::string admin_token;  // >= 16 printable characters; ADCLICK_ADMIN_TOKEN overrides
  // advertiser id -> key (>= 16 printable characters, unique, != admin_token).
  std::map<std::string, std::string> advertiser_keys;
};

enum class log_level { trace, debug, info, warn, error };

// [logging]
struct logging_options {
  log_level level = log_level::info;
};

struct config {
  server_options server;
  storage_options storage;
  log_options log;
  kafka_options kafka;
  node_options node;
  signing_options signing;
  ingest_options ingest;
  aggregation_options aggregation;
  reconcile_options reconcile;
  query_options query;
  auth_options auth;
  logging_options logging;
};

// Looks up an environment variable; returns nullptr when it is unset. The
// returned pointer need only stay valid until the next call.
using env_lookup = std::function<const char*(const char*)>;

// An env_lookup over the process environment (::getenv). Like getenv, not
// safe against a concurrent setenv; the config is read at startup.
const env_lookup& process_env();

// Parses and validates a whole config. Keys left out take their defaults;
// signing.current_key, signing.keys and auth.admin_token (or the variable
// ADCLICK_ADMIN_TOKEN) are required. A secret written as "env:NAME" is taken
// from the environment variable NAME.
// On failure, returns a config_errc and sets `error_line` to ONE line that
// names `source_name`, the dotted key and the problem, e.g.
//   config adclick.toml: log.partitions: must be an integer from 1 to 4096 (got 0)
// Secret values are never echoed in `error_line`.
[[nodiscard]] result<config> parse_config(std::string_view toml_text, std::string_view source_name,
                                          std::string& error_line,
                                          const env_lookup& env = process_env());

// Reads the file at `path` and parses it with parse_config (source name =
// path). A file that cannot be read gives config_errc::io.
[[nodiscard]] result<config> load_config_file(const std::string& path, std::string& error_line,
                                              const env_lookup& env = process_env());

// The text of config/adclick.toml as it was when the binary was built.
std::string_view default_config_text();

// The effective config as TOML text (every key, defaults included), for
// logs and `--print-config`. Secrets (admin token, advertiser keys, signing
// keys) are shown as "***"; key ids and advertiser ids stay visible.
std::string describe(const config& c);

// A config reload (SIGHUP) changes these keys of a running server:
// signing.keys and signing.current_key (key rotation), auth.admin_token,
// auth.advertiser_keys and logging.level; with HTTPS the files named by
// server.tls_cert and server.tls_key are read again. Returns `running` with
// those keys taken from `next` (both validated), and in `restart_keys` the
// dotted names of the other keys whose values differ in `next`: they take
// effect only at the next start.
config reloadable_part(const config& running, const config& next,
                       std::vector<std::string>& restart_keys);

// True when any secret is one of the demo values shipped in
// config/adclick.toml, so the server can warn that they must be replaced.
bool uses_demo_secrets(const config& c);

// Whether a librdkafka property's value is a secret (passwords, keys):
// masked by describe() and never echoed in errors.
bool is_secret_kafka_property(std::string_view name);

std::string_view to_string(log_backend b);
std::string_view to_string(log_durability d);
std::string_view to_string(io_model m);
std::string_view to_string(log_level l);

}  // namespace adclick::config
