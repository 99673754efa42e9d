#pragma once
// The process's own figures under the names Prometheus' client libraries use
// (process_resident_memory_bytes, process_open_fds, process_start_time_seconds),
// so that stock dashboards and alerts find them. Read from /proc when rendered.

#include "base/metrics.h"

namespace adclick::base {

// Registers the process's figures in `m`. Once per process.
void register_process_metrics(metrics_registry& m);

}  // namespace adclick::base
