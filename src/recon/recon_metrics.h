#pragma once
// The batch layer's gauges on /metrics: runs, rows checked and corrected,
// drift, archiving.

namespace adclick::base {
class metrics_registry;
}

namespace adclick::recon {

class reconciler;

// `r` must outlive every render of `m`.
void register_metrics(const reconciler& r, base::metrics_registry& m);

}  // namespace adclick::recon
