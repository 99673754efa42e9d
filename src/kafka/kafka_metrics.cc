#include "kafka/kafka_metrics.h"

#include "kafka/counts_topic.h"
#include "kafka/kafka_log.h"

namespace adclick::kafka {

void register_metrics(const kafka_log& log, base::metrics_registry& m) {
  m.add_gauge("adclick_kafka_brokers_reachable", "1 while the brokers answer, else 0 (then /readyz says not ready)", "",
              [&log] { return log.brokers_reachable() ? 1.0 : 0.0; });
  m.add_counter_fn("adclick_kafka_late_deliveries_total",
              "Clicks answered unrecorded whose record reached the topic after all (counted)", "",
              [&log] { return static_cast<double>(log.late_deliveries()); });
}

void register_metrics(const counts_materializer& in, base::metrics_registry& m) {
  m.add_counter_fn("adclick_counts_flushes_applied_total", "Flushes (and batches of other partials) of the counts topic applied", "",
              [&in] { return static_cast<double>(in.stats().flushes_applied); });
  m.add_counter_fn("adclick_counts_flushes_replayed_total", "Flushes of the counts topic at or below the state's offset, dropped",
              "", [&in] { return static_cast<double>(in.stats().flushes_replayed); });
  m.add_counter_fn("adclick_counts_records_corrupt_total", "Damaged records of the counts topic, reported and not counted", "",
              [&in] { return static_cast<double>(in.stats().records_corrupt); });
}

}  // namespace adclick::kafka
