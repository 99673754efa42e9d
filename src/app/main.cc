// adclick: one binary, several subcommands. This file only parses the command
// line and hands over to the subsystems.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include <dlfcn.h>
#include <cstdio>
#include <filesystem>
#include <string>

#include <chrono>
#include <fstream>

#include "app/serve.h"
#include "base/ad_id.h"
#include "base/duration.h"
#include "base/lock_file.h"
#include "base/rfc3339.h"
#include "base/wall_time.h"
#include "config/config.h"
#include "ingest/ad_registry.h"
#include "ingest/click_processor.h"
#include "ingest/signature.h"
#include "log/archive.h"
#include "log/inspect.h"
#include "query/query_service.h"
#include "state/ads_snapshot.h"
#include "state/store.h"

#ifndef ADCLICK_VERSION
#define ADCLICK_VERSION "0.0.0"
#endif

namespace {

// The allocator this process runs on, as the dynamic linker resolved it:
// jemalloc exports mallctl. Sanitizer builds run on the sanitizer's own.
const char* allocator_name() {
  return dlsym(RTLD_DEFAULT, "mallctl") != nullptr ? "jemalloc" : "default malloc";
}

// Loads --config FILE, or the embedded default when no file is given. Prints
// one line and returns false on error.
bool load_config(const std::string& path, adclick::config::config& out) {
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

int run(int argc, char** argv) {
  CLI::App app{"adclick: ad click aggregator (signed click redirects, exact per-minute counts)",
               "adclick"};
  app.require_subcommand(1);
  app.set_version_flag("--version", ADCLICK_VERSION);

  auto* version = app.add_subcommand("version", "Print the version and exit");

  std::string serve_config;
  bool print_config = false;
  auto* serve = app.add_subcommand("serve", "Run the server");
  serve->add_option("--config", serve_config,
                    "TOML config file (default: the embedded config/adclick.toml)");
  serve->add_flag("--print-config", print_config,
                  "Print the effective config (secrets masked) and exit");

  auto* log_cmd = app.add_subcommand("log", "Work with the click log");
  log_cmd->require_subcommand(1);
  std::string inspect_dir;
  auto* inspect = log_cmd->add_subcommand(
      "inspect",
      "List partitions and segments with offset and time ranges, verify every checksum; exit 0 "
      "when clean, 1 when damaged");
  inspect->add_option("DIR", inspect_dir,
                      "The log directory (<data_dir>/log), a data dir, or an archive (storage.archive_dir)")
      ->required();

  std::string sign_config;
  std::string sign_ad_text;
  std::string sign_impression, sign_ttl = "1h", sign_base;
  auto* sign = app.add_subcommand("sign", "Print a signed click URL (for testing links by hand)");
  sign->add_option("--config", sign_config, "TOML config file (default: the embedded one)");
  sign->add_option("--ad", sign_ad_text, "The ad id: a decimal integer in [1, 2^63)")->required();
  sign->add_option("--impression", sign_impression, "Impression id (default: a new UUIDv4)");
  sign->add_option("--ttl", sign_ttl, "Validity, e.g. 1h (at most signing.max_validity)");
  sign->add_option("--base-url", sign_base,
                   "Where adclick is reached (default: http://<server.listen>)");

  auto* ads_cmd = app.add_subcommand("ads", "Manage ads offline (the server must be stopped)");
  ads_cmd->require_subcommand(1);
  std::string import_file, import_config;
  auto* import = ads_cmd->add_subcommand(
      "import", "Load ads from a CSV file adId,advertiserId,url (header optional); bad rows are "
                "reported by line and skipped; exit 1 if any row was bad");
  import->add_option("FILE", import_file, "The CSV file")->required();
  import->add_option("--config", import_config, "TOML config file (default: the embedded one)");

  std::string recon_config, recon_from, recon_to;
  auto* reconcile = app.add_subcommand(
      "reconcile",
      "Recount [from, to) exactly from the log and correct the counts that differ, on a stopped "
      "server's data dir (a running server: POST /api/v1/reconciliations); prints the report");
  reconcile->add_option("--config", recon_config, "TOML config file (default: the embedded one)");
  reconcile->add_option("--from", recon_from, "Start, RFC 3339 UTC or Unix seconds")->required();
  reconcile->add_option("--to", recon_to, "End (excluded), RFC 3339 UTC or Unix seconds")->required();
  bool recon_from_archive = false;
  reconcile->add_flag("--from-archive", recon_from_archive,
                      "Read the records from storage.archive_dir (ranges older than log.retention)");

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

  if (version->parsed()) {
    std::printf("adclick %s (allocator: %s)\n", ADCLICK_VERSION, allocator_name());
    return 0;
  }
  if (serve->parsed()) {
    adclick::config::config cfg;
    if (!load_config(serve_config, cfg)) return 2;
    if (print_config) {
      std::fputs(adclick::config::describe(cfg).c_str(), stdout);
      return 0;
    }
    return adclick::app::serve(cfg);
  }
  if (sign->parsed()) {
    adclick::config::config cfg;
    if (!load_config(sign_config, cfg)) return 2;
    auto ttl = adclick::base::parse_duration(sign_ttl);
    if (!ttl || ttl->count() < 1000 || *ttl > cfg.signing.max_validity) {
      std::fprintf(stderr, "adclick: --ttl must be a duration from 1s to signing.max_validity (%s)\n",
                   sign_ttl.c_str());
      return 2;
    }
    const auto parsed_ad = adclick::base::parse_ad_id(sign_ad_text);
    if (!parsed_ad) {
      std::fprintf(stderr, "adclick: --ad: %s\n", std::string(adclick::base::kAdIdRule).c_str());
      return 2;
    }
    const std::uint64_t sign_ad = *parsed_ad;
    if (sign_impression.empty()) sign_impression = adclick::ingest::new_impression_id();
    std::string why;
    adclick::ingest::click_params check;
    const std::string probe = "adId=1&impressionId=" + sign_impression + "&signature=x";
    if (!adclick::ingest::parse_click_query(probe, check, why)) {
      std::fprintf(stderr, "adclick: --impression: %s\n", why.c_str());
      return 2;
    }
    adclick::ingest::signer signer(cfg.signing.keys, cfg.signing.current_key,
                                   cfg.signing.max_validity.count() / 1000);
    const auto now_s = adclick::base::wall_now_s();
    const std::int64_t exp = now_s + ttl->count() / 1000;
    if (sign_base.empty()) {
      const auto& l = cfg.server.listen;
      sign_base = "http://" + (l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host) +
                  ":" + std::to_string(l.port);
    }
    while (!sign_base.empty() && sign_base.back() == '/') sign_base.pop_back();
    std::printf("%s/click?adId=%llu&impressionId=%s&signature=%s\n", sign_base.c_str(),
                static_cast<unsigned long long>(sign_ad), sign_impression.c_str(),
                signer.sign(sign_ad, sign_impression, exp).c_str());
    return 0;
  }
  if (import->parsed()) {
    adclick::config::config cfg;
    if (!load_config(import_config, cfg)) return 2;
    std::ifstream in(import_file);
    if (!in) {
      std::fprintf(stderr, "adclick: cannot read %s\n", import_file.c_str());
      return 1;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::error_code ec;
    std::filesystem::create_directories(cfg.storage.data_dir, ec);
    long holder = 0;
    auto lock = adclick::base::lock_file::acquire(cfg.storage.data_dir + "/LOCK", &holder);
    if (!lock) {
      std::fprintf(stderr, "adclick: data dir %s is in use (pid %ld); stop the server first\n",
                   cfg.storage.data_dir.c_str(), holder);
      return 1;
    }
    std::string err;
    auto store = adclick::state::store::open(cfg.storage.data_dir + "/state", err);
    if (!store) {
      std::fprintf(stderr, "adclick: %s\n", err.c_str());
      return 1;
    }
    adclick::ingest::ad_registry registry(**store, adclick::ingest::kDefaultAdCacheBytes,
                                          adclick::state::ads_snapshot_path(cfg.storage.data_dir));
    if (auto e = registry.load()) {
      std::fprintf(stderr, "adclick: cannot load ads: %s\n", e.message().c_str());
      return 1;
    }
    const auto rep = adclick::ingest::import_ads_csv(registry, text);
    for (const auto& e : rep.errors) std::fprintf(stderr, "adclick: %s: %s\n", import_file.c_str(), e.c_str());
    std::printf("imported %zu ads, %zu bad rows\n", rep.imported, rep.errors.size());
    // The snapshot first: its write drops the changed marks, which the
    // compaction then removes for good.
    std::string why;
    if (auto e = registry.write_snapshot(why)) {
      std::fprintf(stderr, "adclick: the ads are imported but their snapshot could not be written: %s\n",
                   why.c_str());
      return 1;
    }
    std::printf("wrote the ads snapshot of %zu ads\n", registry.size());
    if (auto e = (*store)->compact_ads()) {
      std::fprintf(stderr, "adclick: the ads are imported but could not be compacted: %s\n",
                   e.message().c_str());
      return 1;
    }
    return rep.errors.empty() ? 0 : 1;
  }
  if (reconcile->parsed()) {
    adclick::config::config cfg;
    if (!load_config(recon_config, cfg)) return 2;
    const auto from = adclick::base::parse_time(recon_from);
    const auto to = adclick::base::parse_time(recon_to);
    if (!from || !to) {
      std::fprintf(stderr, "adclick: --%s must be an RFC 3339 UTC time or Unix seconds\n", !from ? "from" : "to");
      return 2;
    }
    if (*from >= *to) {
      std::fprintf(stderr, "adclick: --from must be before --to\n");
      return 2;
    }
    return adclick::app::reconcile_offline(cfg, *from, *to, recon_from_archive);
  }
  if (inspect->parsed()) {
    std::string dir = inspect_dir;
    // Accept the data dir too.
    if (FILE* f = std::fopen((dir + "/log/LOG_META").c_str(), "r")) {
      std::fclose(f);
      dir += "/log";
    }
    const auto report = adclick::log::is_archive_dir(dir) ? adclick::log::inspect_archive(dir)
                                                          : adclick::log::inspect_log(dir);
    std::fputs(adclick::log::format_report(report).c_str(), stdout);
    return report.clean() ? 0 : 1;
  }
  return 0;
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
