#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>

#include "app/commands.h"
#include "app/data_dir.h"
#include "app/options.h"
#include "base/floor_div.h"
#include "log/archive.h"
#include "log/segmented_log.h"
#include "recon/reconciler.h"
#include "recon/report.h"

namespace adclick::app {
namespace {

void say(const std::string& line) { std::fprintf(stderr, "adclick: %s\n", line.c_str()); }

// --from-archive: only minutes the archive holds completely. Every record of
// the live log that the archive does not hold is at or after the returned
// cut; `to_s` is moved back to it. False (said) when nothing is left.
bool clip_to_archive(const config::config& cfg, const log::segment_archive& archive, std::int64_t from_s,
                     std::int64_t& to_s) {
  std::string error_line;
  log::recovery_report rep;
  auto live = log::segmented_log::open(log_options_from(cfg), rep, error_line);
  if (!live) {
    say(error_line);
    return false;
  }
  const std::int64_t complete = log::archive_complete_before(archive, **live);
  (*live)->stop();
  if (complete == INT64_MAX) return true;
  const std::int64_t cut_s = base::floor_div(complete, 60000) * 60;
  if (cut_s < to_s) {
    std::fprintf(stderr, "adclick: the archive holds every record only before %lld (Unix s); the range ends there\n",
                 static_cast<long long>(cut_s));
    to_s = cut_s;
  }
  if (to_s <= from_s) {
    say("the archive does not hold this range completely; use the live log");
    return false;
  }
  return true;
}

// The archived segments that meet the range (and the dedup window before
// it) become a log of their own in `scratch`; `options` is pointed at it.
bool log_from_archive(const config::config& cfg, std::int64_t from_s, std::int64_t& to_s, const std::string& scratch,
                      log::log_options& options) {
  std::string error_line;
  auto archive = log::segment_archive::open(*cfg.storage.archive_dir, error_line);
  if (!archive) {
    say(error_line);
    return false;
  }
  if (!clip_to_archive(cfg, **archive, from_s, to_s)) return false;
  std::error_code rm_ec;
  std::filesystem::remove_all(scratch, rm_ec);
  const std::int64_t slack =
      cfg.aggregation.max_out_of_orderness.count() + cfg.aggregation.allowed_lateness.count() + 60'000;
  std::string problem;
  auto n = log::extract_range(**archive, static_cast<std::uint32_t>(cfg.log.partitions),
                              from_s * 1000 - cfg.signing.max_validity.count() - slack, to_s * 1000, scratch, problem);
  if (!n) {
    say("archive: " + (problem.empty() ? n.error().message() : problem));
    return false;
  }
  std::fprintf(stderr, "adclick: %zu archived segments extracted\n", *n);
  options.dir = scratch;
  options.record_gaps = false;
  return true;
}

// Removes the scratch log when the command ends, however it ends.
struct scratch_dir {
  std::string path;
  ~scratch_dir() {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

int reconcile_offline(const config::config& cfg, std::int64_t from_s, std::int64_t to_s, bool from_archive) {
  if (from_archive && !cfg.storage.archive_dir) {
    say("--from-archive needs storage.archive_dir in the config");
    return 2;
  }
  std::string error_line;
  auto data = hold_data_dir(cfg.storage.data_dir, if_missing::fail, "stop the server first, or use POST /api/v1/reconciliations on it",
                            error_line);
  if (!data) {
    say(error_line);
    return 1;
  }
  // The log the recount reads: the topic (Kafka), or the data dir's
  // segments (or those extracted from the archive into a scratch log).
  scratch_dir scratch;  // outlives the log
  std::unique_ptr<log::click_log> click_log;
  std::function<void()> stop_log;
  if (cfg.log.backend == config::log_backend::kafka) {
    auto opened = kafka::kafka_log::open(kafka_log_options_from(cfg), error_line);
    if (!opened) {
      say(error_line);
      return 1;
    }
    stop_log = [l = opened->get()] { l->stop(); };
    click_log = std::move(*opened);
  } else {
    auto options = log_options_from(cfg);
    if (from_archive) {
      scratch.path = cfg.storage.data_dir + "/reconcile-from-archive";
      if (!log_from_archive(cfg, from_s, to_s, scratch.path, options)) return 1;
    } else {
      auto floors = committed_offsets(*data->store, cfg);
      if (!floors) {
        say("cannot read the shards' committed offsets: " + floors.error().message());
        return 1;
      }
      options.resume_floor = std::move(*floors);
    }
    log::recovery_report recovered;
    auto opened = log::segmented_log::open(options, recovered, error_line);
    if (!opened) {
      say(error_line);
      return 1;
    }
    stop_log = [l = opened->get()] { l->stop(); };
    click_log = std::move(*opened);
  }
  recon::reconciler rec(*click_log, *data->store, recon_options_from(cfg));
  auto r = rec.run_now(from_s * 1000, to_s * 1000, recon::trigger::cli);
  stop_log();
  click_log.reset();  // before the scratch log is removed
  if (!r) {
    say("reconcile: " + r.error().message());
    return 1;
  }
  std::printf("%s\n", recon::to_json(*r).c_str());
  if (r->state != recon::run_state::done) {
    say("reconcile: run " + std::to_string(r->id) + " " + std::string(recon::to_string(r->state)) +
        (r->error.empty() ? "" : ": " + r->error));
    return 1;
  }
  return 0;
}

}  // namespace adclick::app
