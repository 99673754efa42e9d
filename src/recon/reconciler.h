#pragma once
// The batch layer's thread: every `interval` it recounts the minutes that
// closed since its last run plus a look-back (recount.h says how), and it
// runs ranges asked for through the API. Each run leaves a report in the
// `reconcile` family; a run that covers everything from the last reconciled
// minute on advances `reconciled_through`, and with it the log's delete
// floor (segments are deleted only once a reconciliation has covered them).
//
// Durability: a report is written (synced) when a run is queued, when it
// starts and when it ends; each hour's corrections are one synced batch;
// reconciled_through is written with the final report. A run that a stop or
// a crash interrupted is queued again at the next start and redone whole
// (its finished hours are then already exact and stay unchanged).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "adclick/click_archive.h"
#include "adclick/click_log.h"
#include "adclick/result.h"
#include "base/mutex.h"
#include "recon/recount.h"
#include "recon/report.h"
#include "state/store.h"

namespace adclick::recon {

struct reconciler_options {
  recount_options recount;
  std::chrono::milliseconds interval{std::chrono::hours(1)};
  std::chrono::milliseconds lookback{std::chrono::hours(24)};
  std::size_t max_queued = 16;  // runs asked for and not started yet
  // Where reconciled segments are copied before retention may delete them
  // (null: no archive).
  log::click_archive* archive = nullptr;
};

enum class reconciler_errc {
  queue_full = 1,  // too many runs waiting
  stopped,         // not running (or stopping)
  bad_range,       // from >= to
};
const std::error_category& reconciler_category() noexcept;
inline std::error_code make_error_code(reconciler_errc e) noexcept {
  return {static_cast<int>(e), reconciler_category()};
}

struct reconciler_totals {
  std::uint64_t runs_done = 0, runs_failed = 0, runs_cancelled = 0;
  std::uint64_t records_read = 0, rows_checked = 0, rows_corrected = 0, drift_abs = 0;
  std::uint64_t duplicates_found = 0, corrupt_stretches = 0;
  std::uint64_t segments_archived = 0, archive_failures = 0;
  std::int64_t last_done_ms = 0;  // when the last run finished done (0: none yet)
};

class reconciler {
 public:
  reconciler(log::click_log& log, state::store& store, reconciler_options o);
  ~reconciler();  // stop()
  reconciler(const reconciler&) = delete;
  reconciler& operator=(const reconciler&) = delete;

  // Stored reports, as JSON text: one by id (nullopt when there is none),
  // or those with id < before (all when 0), newest first, up to limit, each
  // passed to fn(id, json). Any thread; they read RocksDB, so not an I/O one.
  [[nodiscard]] result<std::optional<std::string>> stored_report(std::uint64_t id) const;
  [[nodiscard]] std::error_code list_reports(std::uint64_t before, std::size_t limit,
                                             const std::function<void(std::uint64_t, const std::string&)>& fn) const;

  // Queues again the runs a stop or a crash left unfinished, then starts the
  // thread. The first periodic run is one interval after start.
  [[nodiscard]] std::error_code start();
  // Cancels the run in progress (its report says cancelled; it is queued
  // again at the next start) and joins. Idempotent.
  void stop();

  // Queues a run over [from_ms, to_ms); the returned report (state queued)
  // is already stored. Any thread.
  [[nodiscard]] result<report> request(std::int64_t from_ms, std::int64_t to_ms, trigger by);

  // Runs [from_ms, to_ms) on the calling thread, start to end, with its
  // report stored like any other (for `adclick reconcile` on a stopped
  // server's data dir, and tests). Not while the thread runs.
  [[nodiscard]] result<report> run_now(std::int64_t from_ms, std::int64_t to_ms, trigger by);
  // The periodic run, now, on the calling thread (tests). nullopt when
  // nothing is final yet.
  [[nodiscard]] result<std::optional<report>> run_periodic_now();

  reconciler_totals totals() const;

 private:
  void thread_main();
  std::optional<std::pair<std::int64_t, std::int64_t>> periodic_range();
  result<report> new_report(std::int64_t from_ms, std::int64_t to_ms, trigger by);
  void execute(report& r, cancel_token& cancel);
  // With archive_now false, the floor stops at the first segment not yet
  // archived (at start, so that archiving happens on this thread later).
  void raise_delete_floors(std::int64_t reconciled_through_ms, bool archive_now);
  std::error_code save(const report& r);

  log::click_log& log_;
  state::store& store_;
  const reconciler_options o_;

  mutable base::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::uint64_t> queue_ GUARDED_BY(mu_);  // report ids waiting
  std::uint64_t next_id_ GUARDED_BY(mu_) = 0;        // 0: not loaded yet
  bool running_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  cancel_token* current_cancel_ GUARDED_BY(mu_) = nullptr;  // the run in progress
  reconciler_totals totals_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace adclick::recon

template <>
struct std::is_error_code_enum<adclick::recon::reconciler_errc> : std::true_type {};
