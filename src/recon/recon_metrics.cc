#include "recon/recon_metrics.h"

#include <tuple>

#include "base/metrics.h"
#include "recon/reconciler.h"

namespace adclick::recon {

void register_metrics(const reconciler& r, base::metrics_registry& m) {
  using field = std::uint64_t reconciler_totals::*;
  const std::tuple<const char*, const char*, field> counters[] = {
      {"adclick_reconcile_runs_total", "outcome=\"done\"", &reconciler_totals::runs_done},
      {"adclick_reconcile_runs_total", "outcome=\"failed\"", &reconciler_totals::runs_failed},
      {"adclick_reconcile_runs_total", "outcome=\"cancelled\"", &reconciler_totals::runs_cancelled},
      {"adclick_reconcile_records_read_total", "", &reconciler_totals::records_read},
      {"adclick_reconcile_rows_checked_total", "", &reconciler_totals::rows_checked},
      {"adclick_reconcile_rows_corrected_total", "", &reconciler_totals::rows_corrected},
      {"adclick_reconcile_drift_clicks_total", "", &reconciler_totals::drift_abs},
      {"adclick_reconcile_duplicates_total", "", &reconciler_totals::duplicates_found},
      {"adclick_reconcile_corrupt_stretches_total", "", &reconciler_totals::corrupt_stretches},
  };
  for (const auto& [name, labels, member] : counters) {
    m.add_counter_fn(name, "Reconciliation totals since start (see GET /api/v1/reconciliations)", labels,
                [&r, member = member] { return static_cast<double>(r.totals().*member); });
  }
  m.add_counter_fn("adclick_archive_segments_total", "Log segments archived since start", "",
              [&r] { return static_cast<double>(r.totals().segments_archived); });
  m.add_counter_fn("adclick_archive_failures_total", "Segments whose archiving failed (kept in the log)", "",
              [&r] { return static_cast<double>(r.totals().archive_failures); });
  m.add_gauge("adclick_reconcile_last_success_timestamp_seconds",
              "Unix time of the last reconciliation that finished", "",
              [&r] { return static_cast<double>(r.totals().last_done_ms) / 1000.0; });
}

}  // namespace adclick::recon
