#pragma once
// The state store's gauges on /metrics: dedup keys and SST bytes.

namespace adclick::base {
class metrics_registry;
}

namespace adclick::state {

class store;

// `s` must outlive every render of `m`. Not const: RocksDB's property reads
// are not.
void register_metrics(store& s, base::metrics_registry& m);

}  // namespace adclick::state
