#pragma once
// What one reconciliation run did: kept in RocksDB (the `reconcile` family,
// as JSON text) and returned by the API and `adclick reconcile`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace adclick::recon {

enum class trigger { periodic, api, cli };
std::string_view to_string(trigger t);

// queued -> running -> done | failed | cancelled. A run found `running` or
// `queued` at start (the process died or stopped) is queued again.
enum class run_state { queued, running, done, failed, cancelled };
std::string_view to_string(run_state s);

struct partition_snapshot {
  std::uint32_t partition = 0;
  std::uint64_t end_offset = 0;  // the durable end when the run started
};

// A hole in the log (offsets lost before they were reconciled) whose
// possible event times meet the run's range: the run neither checked nor
// corrected the minutes [unchecked_from_ms, unchecked_to_ms).
struct hole_skip {
  std::uint32_t partition = 0;
  std::uint64_t from_offset = 0;
  std::uint64_t to_offset = 0;
  std::int64_t unchecked_from_ms = 0;
  std::int64_t unchecked_to_ms = 0;
};

struct report {
  std::uint64_t id = 0;
  trigger by = trigger::periodic;
  run_state state = run_state::queued;
  std::string error;  // why it failed (empty otherwise)

  // As asked, and as run: `to` is cut back to what the speed layer can no
  // longer change (final), both are whole minutes. Unix ms.
  std::int64_t requested_from_ms = 0;
  std::int64_t requested_to_ms = 0;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::int64_t created_ms = 0;  // when it was asked for
  std::int64_t started_ms = 0;  // last start (0 before)
  std::int64_t duration_ms = 0;
  std::uint32_t attempts = 0;  // starts, counting restarts after a stop or crash

  std::vector<partition_snapshot> snapshot;
  std::uint64_t segments_read = 0;
  std::uint64_t records_read = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t records_in_range = 0;   // read records with an event time in [from, to)
  std::uint64_t duplicates_found = 0;   // records in range not counted (an earlier copy was)
  std::uint64_t late_included = 0;      // counted records the speed layer took as late
  std::uint64_t corrupt_stretches = 0;  // bad stretches skipped (checksums): never counted
  std::uint64_t corrupt_bytes = 0;
  std::uint64_t rows_checked = 0;    // (ad, minute) counters compared
  std::uint64_t rows_corrected = 0;  // ... overwritten because they differed
  std::int64_t drift_net = 0;        // sum of (exact - stored) over corrected counters
  std::uint64_t drift_abs = 0;       // sum of |exact - stored|
  std::uint64_t clicks_counted = 0;  // exact clicks in [from, to)
  std::uint64_t dedup_peak_entries = 0;  // most impressions remembered at once
  std::vector<hole_skip> log_holes;      // holes met; their minutes left as they were
  std::uint64_t rows_unchecked = 0;      // (ad, minute) counters left alone for a hole
  std::optional<std::int64_t> reconciled_through_ms;  // after the run, if it moved it
};

std::string to_json(const report& r);
// nullopt when the text is not a report (damaged or foreign).
std::optional<report> report_from_json(std::string_view text);

}  // namespace adclick::recon
