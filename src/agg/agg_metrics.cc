#include "agg/agg_metrics.h"

#include <fmt/format.h>

#include "agg/aggregator.h"
#include "base/metrics.h"

namespace adclick::agg {

void register_metrics(const aggregator& a, base::metrics_registry& m) {
  m.add_gauge_family("adclick_shard_lag_records", "Durable records not yet applied, per shard", [&a] {
    std::vector<std::pair<std::string, double>> out;
    for (const auto& s : a.status()) {
      double lag = 0;
      for (const auto& p : s.partitions) lag += static_cast<double>(p.durable_end - p.position);
      out.emplace_back(fmt::format("shard=\"{}\"", s.shard), lag);
    }
    return out;
  });
  m.add_gauge_family("adclick_shard_watermark_timestamp_seconds", "Event-time watermark per shard",
                     [&a] {
                       std::vector<std::pair<std::string, double>> out;
                       for (const auto& s : a.status()) {
                         out.emplace_back(fmt::format("shard=\"{}\"", s.shard),
                                          static_cast<double>(s.watermark_ms) / 1000.0);
                       }
                       return out;
                     });
  m.add_counter_fn("adclick_shard_commit_failures_total", "Shard commits that failed (retried)", "", [&a] {
    double n = 0;
    for (const auto& s : a.status()) n += static_cast<double>(s.commit_failures);
    return n;
  });
  m.add_counter_fn("adclick_shard_duplicates_total",
              "Copies of a counted click dropped by this node's shards (Kafka: since they took their partitions)", "",
              [&a] {
                double n = 0;
                for (const auto& s : a.status()) n += static_cast<double>(s.duplicates);
                return n;
              });
  m.add_counter_fn("adclick_late_clicks_total", "Clicks too late for the speed layer", "", [&a] {
    double n = 0;
    for (const auto& s : a.status()) n += static_cast<double>(s.late_records);
    return n;
  });
}

}  // namespace adclick::agg
