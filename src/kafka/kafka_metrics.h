#pragma once
// The Kafka backend's gauges in /metrics.

#include "base/metrics.h"

namespace adclick::kafka {

class kafka_log;
class counts_materializer;

void register_metrics(const kafka_log& log, base::metrics_registry& m);
void register_metrics(const counts_materializer& in, base::metrics_registry& m);

}  // namespace adclick::kafka
