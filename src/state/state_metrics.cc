#include "state/state_metrics.h"

#include "base/metrics.h"
#include "state/store.h"

namespace adclick::state {

void register_metrics(store& s, base::metrics_registry& m) {
  m.add_gauge("adclick_dedup_keys", "Committed dedup keys (RocksDB estimate)", "",
              [&s] { return static_cast<double>(s.dedup_keys_estimate()); });
  m.add_gauge("adclick_state_sst_bytes", "RocksDB SST bytes", "",
              [&s] { return static_cast<double>(s.stats().sst_bytes); });
}

}  // namespace adclick::state
