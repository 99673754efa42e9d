#pragma once
// The log's gauges on /metrics: appends, group commits, fsyncs, damage, and
// per partition the durable end, the bytes kept and the offsets lost.

namespace adclick::base {
class metrics_registry;
}

namespace adclick::log {

class segmented_log;

// `lg` must outlive every render of `m`.
void register_metrics(const segmented_log& lg, base::metrics_registry& m);

}  // namespace adclick::log
