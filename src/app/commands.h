#pragma once
// The subcommands other than serve, each on a stopped server's data dir or
// on no data dir at all. Each returns the process exit code; errors are one
// line on stderr. The config has already been validated.

#include <cstdint>
#include <string>

#include "config/config.h"

namespace adclick::app {

// `adclick reconcile`: one reconciliation of [from_s, to_s) (Unix seconds);
// prints the report as JSON. With from_archive the records are read from
// storage.archive_dir (for a range older than the log's retention) instead
// of the live log. 0 when the run is done, 1 otherwise.
int reconcile_offline(const config::config& cfg, std::int64_t from_s, std::int64_t to_s, bool from_archive);

struct sign_request {
  std::string ad;          // as given: parsed by base::parse_ad_id
  std::string impression;  // empty: a new UUIDv4
  std::string ttl = "1h";
  std::string base_url;  // empty: http://<server.listen>
};
// `adclick sign`: prints one signed click URL. 2 on a bad argument.
int sign_click_url(const config::config& cfg, const sign_request& r);

// `adclick ads import FILE`: loads the CSV into the registry, writes the ads
// snapshot and compacts. 1 if any row was bad.
int import_ads(const config::config& cfg, const std::string& file);

// `adclick backup verify DIR`: prints what the backup holds; 1 when it does
// not verify.
int verify_backup_command(const std::string& dir);

// `adclick restore --from DIR`: fills storage.data_dir (absent or empty)
// from the backup; 1 when refused or failed.
int restore_command(const config::config& cfg, const std::string& from);

// `adclick log inspect DIR`: a log dir, a data dir or an archive. 1 when
// damaged.
int inspect_log(const std::string& dir);

struct kafka_mock_request {
  int brokers = 3;
  int partitions = 8;
  int replication = 0;  // 0: 3, or brokers if fewer
  std::string topic = "clicks";
  std::string counts_topic = "adclick-counts";
};
// `adclick kafka-mock`: runs librdkafka's mock cluster until SIGTERM or
// SIGINT, with both topics created; prints `bootstrap_servers = "..."` as the
// first line on stdout, and takes commands on stdin (down N, up N, leader
// TOPIC PARTITION BROKER). 2 on a bad argument.
int run_kafka_mock(const kafka_mock_request& r);

}  // namespace adclick::app
