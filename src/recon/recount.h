#pragma once
// One reconciliation pass: recount [from, to) exactly from the log and
// overwrite the `counts` rows that differ. The thread, the queue and the
// reports around it are in reconciler.h.
//
// How it counts (DESIGN.md invariant 5):
//  - `to` is cut back to the speed layer's committed finality (the lowest
//    shard watermark minus the allowed lateness, read after the log's durable
//    ends are snapshotted), so no minute it overwrites can still receive a
//    speed-layer delta.
//  - It reads every partition up to the snapshot, only the segments whose
//    event-time range meets [from - max_validity - slack, to), merging the
//    partitions in event-time order.
//  - An impression (adId, impressionId) is counted once, in the minute of its
//    earliest record. A duplicate shares its click's signed expiry and comes
//    at most max_validity after it, so scanning from from - max_validity finds
//    every earlier copy, and an impression is forgotten once the scan is past
//    its expiry (plus the slack): memory is bounded by the clicks of one
//    validity window, not by the range.
//  - Minutes are finished an hour (one counts row) at a time once the scan is
//    past the hour's end plus the slack: each hour's corrections are one
//    synced WriteBatch, so a stop or crash leaves whole hours corrected and
//    nothing half-written. A record older than an hour already finished (a
//    late click far out of order) corrects its minute at once, in its own
//    batch.
//  - Bad stretches of the log (checksum failures) are skipped and reported,
//    never counted.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <system_error>
#include <tuple>
#include <vector>

#include "adclick/click_log.h"
#include "base/mutex.h"
#include "recon/report.h"
#include "state/store.h"

namespace adclick::recon {

struct recount_options {
  std::int64_t max_validity_ms = 24 * 3600 * 1000LL;
  std::int64_t allowed_lateness_ms = 60 * 1000;
  std::int64_t max_out_of_orderness_ms = 5 * 1000;
  std::uint32_t shards = 2;          // whose committed watermarks decide finality
  std::uint64_t max_read_rate = 0;   // bytes/s read from the log; 0: unpaced
  std::uint32_t watermark_partitions = 0;  // Kafka: the partitions' instead (committed_final_through_ms)
  // A cluster (log.backend = "kafka"): corrections are not written to this
  // node's counts rows but handed here, (adId, minute, exact clicks) each,
  // one hour's at a time, to be published for every node (see
  // agg/source_writer.h). An error fails the pass.
  std::function<std::error_code(const std::vector<std::tuple<std::uint64_t, std::int64_t, std::uint64_t>>&)>
      publish_corrections;
};

// Lets another thread stop a pass (shutdown); also what pacing sleeps on.
class cancel_token {
 public:
  void cancel() {
    {
      base::mutex_lock lock(mu_);
      cancelled_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Sleeps up to d; true if cancelled meanwhile (or before).
  bool sleep_for(std::chrono::nanoseconds d) {
    base::mutex_lock lock(mu_);
    const auto until = std::chrono::steady_clock::now() + d;
    while (!cancelled() && lock.wait_until(cv_, until)) {
    }
    return cancelled();
  }

 private:
  base::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> cancelled_{false};
};

enum class recount_errc {
  cancelled = 1,  // the token was cancelled; whole hours already done stay done
  log_read,       // the log could not be read
  state,          // RocksDB failed (read or write)
};
const std::error_category& recount_category() noexcept;
inline std::error_code make_error_code(recount_errc e) noexcept {
  return {static_cast<int>(e), recount_category()};
}

// Recounts [r.requested_from_ms, r.requested_to_ms) and fills r's range,
// snapshot and counters. Does not touch r.state, r.id or reconciled_through.
std::error_code recount(log::click_log& log, state::store& store, const recount_options& o, report& r,
                        cancel_token& cancel);

}  // namespace adclick::recon

template <>
struct std::is_error_code_enum<adclick::recon::recount_errc> : std::true_type {};
