// adclick: one binary, several subcommands. This file only parses the command
// line and hands each subcommand to its function (app/serve.h,
// app/commands.h).

#include <CLI/CLI.hpp>

#include <dlfcn.h>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/serve.h"
#include "base/rfc3339.h"
#include "config/config.h"

#ifndef ADCLICK_VERSION
#define ADCLICK_VERSION "0.0.0"
#endif

namespace {

using adclick::config::config;

// The allocator this process runs on, as the dynamic linker resolved it:
// jemalloc exports mallctl. Sanitizer builds run on the sanitizer's own.
const char* allocator_name() { return dlsym(RTLD_DEFAULT, "mallctl") != nullptr ? "jemalloc" : "default malloc"; }

// Loads --config FILE, or the embedded default when no file is given. Prints
// one line and returns false on error.
bool load_config(const std::string& path, config& out) {
  std::string error_line;
  auto cfg = path.empty() ? adclick::config::parse_config(adclick::config::default_config_text(),
                                                          "(embedded default)", error_line)
                          : adclick::config::load_config_file(path, error_line);
  if (!cfg) {
    std::fprintf(stderr, "adclick: %s\n", error_line.c_str());
    return false;
  }
  out = std::move(*cfg);
  return true;
}

// What runs once the command line is parsed: the exit code.
using command = std::function<int()>;

// Runs `body` with the config of --config (2 when it does not load).
int with_config(const std::string& path, const std::function<int(const config&)>& body) {
  config cfg;
  if (!load_config(path, cfg)) return 2;
  return body(cfg);
}

void add_version(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand("version", "Print the version and exit");
  cmd->callback([&run] {
    run = [] {
      std::printf("adclick %s (allocator: %s)\n", ADCLICK_VERSION, allocator_name());
      return 0;
    };
  });
}

void add_serve(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand("serve", "Run the server");
  auto path = std::make_shared<std::string>();
  auto print = std::make_shared<bool>(false);
  cmd->add_option("--config", *path, "TOML config file (default: the embedded config/adclick.toml)");
  cmd->add_flag("--print-config", *print, "Print the effective config (secrets masked) and exit");
  cmd->callback([&run, path, print] {
    run = [path, print] {
      return with_config(*path, [&](const config& cfg) {
        if (!*print) return adclick::app::serve(cfg, *path);
        std::fputs(adclick::config::describe(cfg).c_str(), stdout);
        return 0;
      });
    };
  });
}

void add_log(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand("log", "Work with the click log");
  cmd->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  auto* inspect = cmd->add_subcommand(
      "inspect",
      "List partitions and segments with offset and time ranges, verify every checksum; exit 0 "
      "when clean, 1 when damaged");
  inspect->add_option("DIR", *dir, "The log directory (<data_dir>/log), a data dir, or an archive (storage.archive_dir)")
      ->required();
  inspect->callback([&run, dir] { run = [dir] { return adclick::app::inspect_log(*dir); }; });
}

void add_sign(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand("sign", "Print a signed click URL (for testing links by hand)");
  auto path = std::make_shared<std::string>();
  auto req = std::make_shared<adclick::app::sign_request>();
  cmd->add_option("--config", *path, "TOML config file (default: the embedded one)");
  cmd->add_option("--ad", req->ad, "The ad id: a decimal integer in [1, 2^63)")->required();
  cmd->add_option("--impression", req->impression, "Impression id (default: a new UUIDv4)");
  cmd->add_option("--ttl", req->ttl, "Validity, e.g. 1h (at most signing.max_validity)");
  cmd->add_option("--base-url", req->base_url, "Where adclick is reached (default: http://<server.listen>)");
  cmd->callback([&run, path, req] {
    run = [path, req] {
      return with_config(*path, [&](const config& cfg) { return adclick::app::sign_click_url(cfg, *req); });
    };
  });
}

void add_ads(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand("ads", "Manage ads offline (the server must be stopped)");
  cmd->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto path = std::make_shared<std::string>();
  auto* import = cmd->add_subcommand(
      "import", "Load ads from a CSV file adId,advertiserId,url (header optional); bad rows are "
                "reported by line and skipped; exit 1 if any row was bad");
  import->add_option("FILE", *file, "The CSV file")->required();
  import->add_option("--config", *path, "TOML config file (default: the embedded one)");
  import->callback([&run, file, path] {
    run = [file, path] {
      return with_config(*path, [&](const config& cfg) { return adclick::app::import_ads(cfg, *file); });
    };
  });
}

void add_reconcile(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand(
      "reconcile",
      "Recount [from, to) exactly from the log and correct the counts that differ, on a stopped "
      "server's data dir (a running server: POST /api/v1/reconciliations); prints the report");
  struct args {
    std::string path, from, to;
    bool from_archive = false;
  };
  auto a = std::make_shared<args>();
  cmd->add_option("--config", a->path, "TOML config file (default: the embedded one)");
  cmd->add_option("--from", a->from, "Start, RFC 3339 UTC or Unix seconds")->required();
  cmd->add_option("--to", a->to, "End (excluded), RFC 3339 UTC or Unix seconds")->required();
  cmd->add_flag("--from-archive", a->from_archive,
                "Read the records from storage.archive_dir (ranges older than log.retention)");
  cmd->callback([&run, a] {
    run = [a] {
      return with_config(a->path, [&](const config& cfg) {
        const auto from = adclick::base::parse_time(a->from);
        const auto to = adclick::base::parse_time(a->to);
        if (!from || !to) {
          std::fprintf(stderr, "adclick: --%s must be an RFC 3339 UTC time or Unix seconds\n", !from ? "from" : "to");
          return 2;
        }
        if (*from >= *to) {
          std::fprintf(stderr, "adclick: --from must be before --to\n");
          return 2;
        }
        return adclick::app::reconcile_offline(cfg, *from, *to, a->from_archive);
      });
    };
  });
}

void add_backup(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand(
      "backup", "Work with backups (a running server makes them: POST /api/v1/backups)");
  cmd->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  auto* verify = cmd->add_subcommand("verify",
                                     "Check a backup: its manifest, and every file's size and "
                                     "XXH3-128; exit 1 if anything differs");
  verify->add_option("DIR", *dir, "The backup directory")->required();
  verify->callback(
      [&run, dir] { run = [dir] { return adclick::app::verify_backup_command(*dir); }; });
}

void add_restore(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand("restore",
                                 "Fill the config's storage.data_dir, which must be absent or "
                                 "empty, from a backup (verified first)");
  auto from = std::make_shared<std::string>();
  auto path = std::make_shared<std::string>();
  cmd->add_option("--from", *from, "The backup directory")->required();
  cmd->add_option("--config", *path,
                  "TOML config file of the server to restore (default: the embedded one)");
  cmd->callback([&run, from, path] {
    run = [from, path] {
      return with_config(
          *path, [&](const config& cfg) { return adclick::app::restore_command(cfg, *from); });
    };
  });
}

void add_kafka_mock(CLI::App& app, command& run) {
  auto* cmd = app.add_subcommand(
      "kafka-mock",
      "Run librdkafka's mock Kafka cluster (loopback brokers, records in memory) until SIGTERM, for tests and "
      "demos of log.backend = \"kafka\"; not a broker for production. The first line on stdout is "
      "bootstrap_servers = \"...\" for [kafka]; stdin takes: down N | up N | leader TOPIC PARTITION BROKER");
  auto req = std::make_shared<adclick::app::kafka_mock_request>();
  cmd->add_option("--brokers", req->brokers, "Brokers, 1 to 16 (default 3)");
  cmd->add_option("--partitions", req->partitions, "Partitions of each topic, 1 to 4096 (default 8)");
  cmd->add_option("--replication", req->replication, "Replication factor, 1 to --brokers (default 3, or --brokers if fewer)");
  cmd->add_option("--topic", req->topic, "The click topic (default clicks)");
  cmd->add_option("--counts-topic", req->counts_topic, "The counts topic (default adclick-counts)");
  cmd->callback([&run, req] { run = [req] { return adclick::app::run_kafka_mock(*req); }; });
}

int run(int argc, char** argv) {
  CLI::App app{"adclick: ad click aggregator (signed click redirects, exact per-minute counts)", "adclick"};
  app.require_subcommand(1);
  app.set_version_flag("--version", ADCLICK_VERSION);
  command chosen;
  add_version(app, chosen);
  add_serve(app, chosen);
  add_log(app, chosen);
  add_sign(app, chosen);
  add_ads(app, chosen);
  add_reconcile(app, chosen);
  add_backup(app, chosen);
  add_restore(app, chosen);
  add_kafka_mock(app, chosen);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      // One clear line, then where to look.
      std::fprintf(stderr, "adclick: %s (see --help)\n", e.what());
      return e.get_exit_code();
    }
    return app.exit(e);
  }
  return chosen ? chosen() : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Whatever escapes a command is reported as one line, not as a terminate().
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "adclick: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "adclick: unexpected error\n");
  }
  return 1;
}
