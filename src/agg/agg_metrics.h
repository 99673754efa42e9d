#pragma once
// The speed layer's gauges on /metrics: lag and watermark per shard, commit
// failures and late clicks.

namespace adclick::base {
class metrics_registry;
}

namespace adclick::agg {

class aggregator;

// `a` must outlive every render of `m`.
void register_metrics(const aggregator& a, base::metrics_registry& m);

}  // namespace adclick::agg
