#include "log/log_metrics.h"

#include <fmt/format.h>

#include <tuple>

#include "base/metrics.h"
#include "log/segmented_log.h"

namespace adclick::log {
namespace {

// One labelled value per partition.
template <class F>
void add_per_partition(base::metrics_registry& m, const char* name, const char* help, const segmented_log& lg,
                       F value) {
  m.add_gauge_family(name, help, [&lg, value] {
    std::vector<std::pair<std::string, double>> out;
    for (partition_id p = 0; p < lg.partitions(); ++p) {
      out.emplace_back(fmt::format("partition=\"{}\"", p), value(p));
    }
    return out;
  });
}

}  // namespace

void register_metrics(const segmented_log& lg, base::metrics_registry& m) {
  const auto& ls = lg.stats();
  using field = const std::atomic<std::uint64_t> log_stats::*;
  const std::tuple<const char*, const char*, field> counters[] = {
      {"adclick_log_appends_total", "Records made durable", &log_stats::appends},
      {"adclick_log_append_failures_total", "Appends failed (disk full, I/O error)", &log_stats::append_failures},
      {"adclick_log_append_timeouts_total", "Appends not written within log.append_timeout (answered unrecorded)",
       &log_stats::append_timeouts},
      {"adclick_log_bytes_written_total", "Bytes written to segments", &log_stats::bytes_written},
      {"adclick_log_group_commits_total", "Group commits", &log_stats::batches},
      {"adclick_log_fsyncs_total", "fdatasync calls on segment files", &log_stats::syncs},
      {"adclick_log_corruptions_total", "Bad stretches of log bytes skipped", &log_stats::corruptions},
      {"adclick_log_sync_failures_total", "Segment fdatasyncs that failed (each fences the log)",
       &log_stats::sync_failures},
  };
  for (const auto& [name, help, member] : counters) {
    m.add_counter_fn(name, help, "", [&ls, member = member] { return static_cast<double>((ls.*member).load()); });
  }
  m.add_counter_fn("adclick_log_fsync_seconds_total", "Time spent in fdatasync", "",
              [&ls] { return static_cast<double>(ls.sync_ns.load()) / 1e9; });
  add_per_partition(m, "adclick_log_partition_durable_end", "Durable end offset (records) per partition", lg,
                    [&lg](partition_id p) { return static_cast<double>(lg.durable_end(p)); });
  add_per_partition(m, "adclick_log_partition_lost_records",
                    "Offsets known lost per partition (holes in the log, never reused)", lg, [&lg](partition_id p) {
                      double lost = 0;
                      for (const auto& h : lg.holes(p)) lost += static_cast<double>(h.to - h.from);
                      return lost;
                    });
  add_per_partition(m, "adclick_log_partition_bytes", "Bytes of records retained per partition", lg,
                    [&lg](partition_id p) {
                      double bytes = 0;
                      for (const auto& s : lg.segments(p)) bytes += static_cast<double>(s.bytes);
                      return bytes;
                    });
}

}  // namespace adclick::log
