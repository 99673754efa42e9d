#include "recon/reconciler.h"

#include <pthread.h>
#include <sched.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "base/error_category.h"
#include "base/mutex.h"
#include "base/wall_time.h"

namespace adclick::recon {
namespace {

const char* describe(reconciler_errc e) noexcept {
  switch (e) {
    case reconciler_errc::queue_full: return "too many reconciliations are waiting";
    case reconciler_errc::stopped: return "the reconciler is not running";
    case reconciler_errc::bad_range: return "from must be before to";
  }
  return nullptr;
}

constexpr std::int64_t kMinuteMs = 60'000;
// How many recent reports start() looks through for unfinished runs.
constexpr std::size_t kResumeScan = 1000;


std::int64_t floor_minute(std::int64_t ms) {
  const std::int64_t q = ms / kMinuteMs;
  return (ms % kMinuteMs != 0 && ms < 0 ? q - 1 : q) * kMinuteMs;
}

}  // namespace

const std::error_category& reconciler_category() noexcept {
  static const base::errc_category<reconciler_errc> c("adclick.reconciler", describe);
  return c;
}

reconciler::reconciler(log::click_log& log, state::store& store, reconciler_options o)
    : log_(log), store_(store), o_(std::move(o)) {}

result<std::optional<std::string>> reconciler::stored_report(std::uint64_t id) const { return store_.get_report(id); }

std::error_code reconciler::list_reports(std::uint64_t before, std::size_t limit,
                                         const std::function<void(std::uint64_t, const std::string&)>& fn) const {
  return store_.list_reports(before, limit, fn);
}

reconciler::~reconciler() { stop(); }

std::error_code reconciler::save(const report& r) {
  state::write_batch b;
  b.put_report(r.id, to_json(r));
  return store_.write(b, true);
}

result<report> reconciler::new_report(std::int64_t from_ms, std::int64_t to_ms, trigger by) {
  std::uint64_t id = 0;
  {
    base::mutex_lock lock(mu_);
    if (next_id_ == 0) {
      auto last = store_.last_report_id();
      if (!last) return last.error();
      next_id_ = *last + 1;
    }
    id = next_id_++;
  }
  report r;
  r.id = id;
  r.by = by;
  r.state = run_state::queued;
  r.requested_from_ms = from_ms;
  r.requested_to_ms = to_ms;
  r.created_ms = base::wall_now_ms();
  if (auto ec = save(r)) return ec;
  return r;
}

std::error_code reconciler::start() {
  std::vector<std::uint64_t> unfinished;
  {
    auto ec = store_.list_reports(0, kResumeScan, [&](std::uint64_t id, const std::string& text) {
      auto r = report_from_json(text);
      if (!r) {
        spdlog::error("recon: report {} is damaged; left as it is", id);
        return;
      }
      if (r->state == run_state::queued || r->state == run_state::running ||
          r->state == run_state::cancelled) {
        unfinished.push_back(id);
      }
    });
    if (ec) return ec;
  }
  std::reverse(unfinished.begin(), unfinished.end());  // oldest first
  for (const auto id : unfinished) {
    auto text = store_.get_report(id);
    if (!text || !*text) continue;
    auto r = report_from_json(**text);
    if (!r) continue;
    spdlog::info("recon: run {} ({}) was interrupted ({}); queued again", id, to_string(r->by),
                 to_string(r->state));
    r->state = run_state::queued;
    if (auto ec = save(*r)) return ec;
  }
  if (auto rt = store_.get_reconciled_through(); rt && *rt) raise_delete_floors(**rt, false);
  base::mutex_lock lock(mu_);
  if (running_ || stopping_) return reconciler_errc::stopped;
  queue_.assign(unfinished.begin(), unfinished.end());
  running_ = true;
  thread_ = std::thread([this] { thread_main(); });
  return {};
}

void reconciler::stop() {
  {
    base::mutex_lock lock(mu_);
    stopping_ = true;
    if (current_cancel_ != nullptr) current_cancel_->cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  base::mutex_lock lock(mu_);
  running_ = false;
}

result<report> reconciler::request(std::int64_t from_ms, std::int64_t to_ms, trigger by) {
  if (from_ms >= to_ms) return reconciler_errc::bad_range;
  {
    base::mutex_lock lock(mu_);
    if (!running_ || stopping_) return reconciler_errc::stopped;
    if (queue_.size() >= o_.max_queued) return reconciler_errc::queue_full;
  }
  auto r = new_report(from_ms, to_ms, by);
  if (!r) return r;
  {
    base::mutex_lock lock(mu_);
    queue_.push_back(r->id);
  }
  cv_.notify_all();
  return r;
}

result<report> reconciler::run_now(std::int64_t from_ms, std::int64_t to_ms, trigger by) {
  if (from_ms >= to_ms) return reconciler_errc::bad_range;
  auto r = new_report(from_ms, to_ms, by);
  if (!r) return r;
  cancel_token cancel;
  execute(*r, cancel);
  return r;
}

result<std::optional<report>> reconciler::run_periodic_now() {
  const auto range = periodic_range();
  if (!range) return std::optional<report>();
  auto r = new_report(range->first, range->second, trigger::periodic);
  if (!r) return r.error();
  cancel_token cancel;
  execute(*r, cancel);
  return std::optional<report>(std::move(*r));
}

std::optional<std::pair<std::int64_t, std::int64_t>> reconciler::periodic_range() {
  auto final_ms =
      state::committed_final_through_ms(store_, o_.recount.shards, o_.recount.allowed_lateness_ms,
                                        o_.recount.watermark_partitions);
  if (!final_ms || !final_ms->has_value()) return std::nullopt;
  const std::int64_t to = **final_ms;
  std::int64_t from = to - o_.lookback.count();
  auto rt = store_.get_reconciled_through();
  if (!rt) return std::nullopt;
  if (rt->has_value()) {
    // Whatever closed since the last run, and the look-back.
    from = std::min(from, **rt);
  } else {
    // Never reconciled: everything the log still holds.
    for (std::uint32_t p = 0; p < log_.partitions(); ++p) {
      for (const auto& s : log_.segments(p)) {
        if (s.records > 0) from = std::min(from, s.min_event_time_ms);
      }
    }
  }
  from = floor_minute(from);
  if (from >= to) return std::nullopt;
  return std::make_pair(from, to);
}

// Long on purpose: one run from start to its stored report, every outcome
// (done, failed, cancelled) written in the one place.
void reconciler::execute(report& r, cancel_token& cancel) {
  // A run is redone whole: start its counters afresh.
  report fresh;
  fresh.id = r.id;
  fresh.by = r.by;
  fresh.requested_from_ms = r.requested_from_ms;
  fresh.requested_to_ms = r.requested_to_ms;
  fresh.created_ms = r.created_ms;
  fresh.attempts = r.attempts + 1;
  fresh.state = run_state::running;
  r = std::move(fresh);
  if (auto ec = save(r)) {
    spdlog::error("recon: run {}: cannot store its report: {}", r.id, ec.message());
  }
  {
    base::mutex_lock lock(mu_);
    current_cancel_ = &cancel;
    if (stopping_) cancel.cancel();
  }
  const auto ec = recount(log_, store_, o_.recount, r, cancel);
  {
    base::mutex_lock lock(mu_);
    current_cancel_ = nullptr;
  }
#if defined(__GLIBC__)
  // The run's dedup set and tallies (hundreds of MiB for a long range) are
  // freed by now, but glibc keeps freed heap for reuse: hand it back, so the
  // server's RSS returns to its steady state after each run. (On jemalloc,
  // the release build's allocator, this is a no-op: jemalloc returns freed
  // pages itself, some seconds after they are freed.)
  malloc_trim(0);
#endif

  state::write_batch b;
  std::optional<std::int64_t> advanced;
  if (ec == recount_errc::cancelled) {
    r.state = run_state::cancelled;
  } else if (ec) {
    r.state = run_state::failed;
    r.error = ec.message();
  } else {
    r.state = run_state::done;
    // reconciled_through moves only over a contiguous stretch: a periodic
    // run (it starts at or before the last mark), or a run that does.
    auto rt = store_.get_reconciled_through();
    if (rt) {
      const bool contiguous = r.by == trigger::periodic || (rt->has_value() && r.from_ms <= **rt);
      if (contiguous && r.to_ms > rt->value_or(INT64_MIN)) {
        advanced = r.to_ms;
        r.reconciled_through_ms = r.to_ms;
        b.put_reconciled_through(r.to_ms);
      }
    }
  }
  b.put_report(r.id, to_json(r));
  if (auto wec = store_.write(b, true)) {
    spdlog::error("recon: run {}: cannot store its report: {}", r.id, wec.message());
  }
  if (advanced) raise_delete_floors(*advanced, true);

  spdlog::info(
      "recon: run {} ({}) {}: [{}, {}) ms, {} records read in {} segments, {} in range, {} duplicates, "
      "{} late included, {} corrupt stretches, {} of {} counters corrected (drift {:+}, |{}|), {} ms{}",
      r.id, to_string(r.by), to_string(r.state), r.from_ms, r.to_ms, r.records_read, r.segments_read,
      r.records_in_range, r.duplicates_found, r.late_included, r.corrupt_stretches, r.rows_corrected,
      r.rows_checked, r.drift_net, r.drift_abs, r.duration_ms, r.error.empty() ? "" : ": " + r.error);

  base::mutex_lock lock(mu_);
  switch (r.state) {
    case run_state::done:
      ++totals_.runs_done;
      totals_.last_done_ms = base::wall_now_ms();
      break;
    case run_state::failed: ++totals_.runs_failed; break;
    case run_state::cancelled: ++totals_.runs_cancelled; break;
    default: break;
  }
  totals_.records_read += r.records_read;
  totals_.rows_checked += r.rows_checked;
  totals_.rows_corrected += r.rows_corrected;
  totals_.drift_abs += r.drift_abs;
  totals_.duplicates_found += r.duplicates_found;
  totals_.corrupt_stretches += r.corrupt_stretches;
}

void reconciler::raise_delete_floors(std::int64_t reconciled_through_ms, bool archive_now) {
  // A segment may go (once retention allows) when every later periodic run
  // can do without it: its newest record is older than the look-back and the
  // dedup window before the reconciled mark. With an archive, it is copied
  // there first. And never ahead of what the speed layer has committed.
  const auto& rc = o_.recount;
  const std::int64_t slack = rc.max_out_of_orderness_ms + rc.allowed_lateness_ms + kMinuteMs;
  const std::int64_t covered = reconciled_through_ms - o_.lookback.count() - rc.max_validity_ms - 2 * slack;
  for (std::uint32_t p = 0; p < log_.partitions(); ++p) {
    log::offset_t floor = 0;
    for (const auto& s : log_.segments(p)) {
      if (!s.sealed || (s.records > 0 && s.max_event_time_ms >= covered)) break;
      if (o_.archive != nullptr && !o_.archive->has(p, s.base_offset)) {
        if (!archive_now) break;
        if (auto ec = o_.archive->add(p, s)) {
          spdlog::error("recon: archiving segment {} of partition {} failed (kept in the log): {}",
                        s.base_offset, p, ec.message());
          base::mutex_lock lock(mu_);
          ++totals_.archive_failures;
          break;
        }
        spdlog::info("recon: archived segment {} of partition {} ({} records)", s.base_offset, p, s.records);
        base::mutex_lock lock(mu_);
        ++totals_.segments_archived;
      }
      floor = s.end_offset;
    }
    auto committed = store_.get_offset(p);
    if (!committed) continue;
    floor = std::min<log::offset_t>(floor, committed->value_or(0));
    if (floor > 0) log_.set_delete_floor(p, floor);
  }
}

void reconciler::thread_main() {
  // Reconciliation is background work: it gets the CPU the click path leaves
  // idle, never a share taken from it (SCHED_IDLE needs no privilege).
  sched_param idle{};
  if (const int err = pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle); err != 0) {
    spdlog::warn("recon: cannot lower the reconciliation thread's priority: {}",
                 std::generic_category().message(err));
  }
  auto next_periodic = std::chrono::steady_clock::now() + o_.interval;
  for (;;) {
    std::optional<std::uint64_t> id;
    {
      base::mutex_lock lock(mu_);
      while (!stopping_ && queue_.empty() && lock.wait_until(cv_, next_periodic)) {
      }
      if (stopping_) return;
      if (!queue_.empty()) {
        id = queue_.front();
        queue_.pop_front();
      } else if (std::chrono::steady_clock::now() < next_periodic) {
        continue;
      }
    }
    cancel_token cancel;
    if (id) {
      auto text = store_.get_report(*id);
      std::optional<report> r;
      if (text && *text) r = report_from_json(**text);
      if (!r) {
        spdlog::error("recon: queued run {} has no readable report; skipped", *id);
        continue;
      }
      execute(*r, cancel);
      continue;
    }
    next_periodic = std::chrono::steady_clock::now() + o_.interval;
    const auto range = periodic_range();
    if (!range) continue;
    auto r = new_report(range->first, range->second, trigger::periodic);
    if (!r) {
      spdlog::error("recon: cannot store a new report: {}", r.error().message());
      continue;
    }
    execute(*r, cancel);
  }
}

reconciler_totals reconciler::totals() const {
  base::mutex_lock lock(mu_);
  return totals_;
}

}  // namespace adclick::recon
