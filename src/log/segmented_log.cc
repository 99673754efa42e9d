#include "log/segmented_log.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <future>

#include "base/bytes.h"
#include "base/file_system.h"
#include "base/mutex.h"
#include "base/wall_time.h"
#include "log/journal.h"
#include "log/log_errc.h"
#include "log/partition.h"
#include "log/record_format.h"
#include "log/segment.h"

namespace adclick::log {
namespace {

constexpr const char* kMetaFile = "LOG_META";
// Written when the log fences itself after a failed segment fdatasync: the
// next start rewrites every active segment from the journal rather than
// trust the page cache.
constexpr const char* kFencedFile = "FENCED";
constexpr auto kMaintenanceEvery = std::chrono::seconds(1);

// Reads one partition, up to its durable end, resynchronising after bad bytes.
class segmented_reader final : public partition_reader {
 public:
  segmented_reader(partition& part, base::file_system& fs, log_stats& stats, offset_t from)
      : part_(part), stats_(stats), scanner_(fs), pos_(from) {}

  result<std::size_t> read(std::size_t max_records,
                           const std::function<void(offset_t, const click_view&)>& fn,
                           std::vector<corruption>* skipped) override {
    std::size_t count = 0;
    click_view view;
    while (count < max_records) {
      if (!seg_) {
        if (pos_ >= part_.durable_end()) break;
        seg_ = part_.find_segment(pos_);
        if (!seg_) break;
        if (pos_ < seg_->base_offset()) pos_ = seg_->base_offset();
        scanner_.reset(seg_->fd(), seg_->position_for(pos_), seg_->durable_bytes());
      }
      auto item = scanner_.next(seg_->base_offset());
      if (!item) return item.error();
      switch (item->kind) {
        case frame_scanner::item::record:
          if (item->offset < pos_) break;  // before the position we seeked to
          if (!format::decode_click(item->payload, view)) {
            report(item->position, item->frame_size, skipped);
            pos_ = item->offset + 1;
            break;
          }
          fn(item->offset, view);
          pos_ = item->offset + 1;
          ++count;
          break;
        case frame_scanner::item::corrupt:
          report(item->position, item->skipped, skipped);
          break;
        case frame_scanner::item::end: {
          if (item->skipped > 0) report(item->position, item->skipped, skipped);
          // Sealed first: once sealed, durable_bytes() is final.
          const bool sealed = seg_->sealed();
          const std::uint64_t limit = seg_->durable_bytes();
          if (limit > scanner_.limit()) {
            scanner_.extend_limit(limit);
            break;
          }
          if (!sealed) return count;  // caught up with the active segment
          auto next = part_.next_segment(seg_->base_offset());
          if (!next) return count;
          if (pos_ < next->base_offset()) pos_ = next->base_offset();
          seg_ = std::move(next);
          scanner_.reset(seg_->fd(), seg_->position_for(pos_), seg_->durable_bytes());
          break;
        }
      }
    }
    return count;
  }

  offset_t position() const override { return pos_; }

  void seek(offset_t offset) override {
    pos_ = offset;
    seg_.reset();
  }

 private:
  void report(std::uint64_t position, std::uint64_t bytes, std::vector<corruption>* skipped) {
    stats_.corruptions.fetch_add(1, std::memory_order_relaxed);
    stats_.corrupt_bytes.fetch_add(bytes, std::memory_order_relaxed);
    spdlog::error("log: partition {}: segment {}: skipped {} bad bytes at byte {}", part_.id(),
                  seg_->base_offset(), bytes, position);
    if (skipped != nullptr) skipped->push_back({part_.id(), seg_->base_offset(), position, bytes});
  }

  partition& part_;
  log_stats& stats_;
  frame_scanner scanner_;
  std::shared_ptr<segment> seg_;  // the segment being read; null: look it up
  offset_t pos_;
};

}  // namespace

result<offset_t> click_log::append_and_wait(partition_id p, const click_record& r) {
  std::promise<result<offset_t>> done;
  auto f = done.get_future();
  append(p, r, [&done](std::error_code ec, offset_t off) {
    if (ec) {
      done.set_value(ec);
    } else {
      done.set_value(off);
    }
  });
  return f.get();
}

segmented_log::segmented_log(log_options options)
    : options_(std::move(options)),
      fs_(options_.fs != nullptr ? *options_.fs : base::posix_file_system()) {}

segmented_log::~segmented_log() { stop(); }

// LOG_META: written on first open; afterwards the partition count must match.
std::error_code segmented_log::check_meta(std::string& error_line) {
  const auto& opt = options_;
  const std::string meta_path = opt.dir + "/" + kMetaFile;
  auto meta = base::read_file(fs_, meta_path);
  if (meta) {
    std::uint32_t n = 0;
    if (!format::parse_log_meta(*meta, n)) {
      error_line = "log: " + meta_path + " is damaged";
      return log_errc::bad_layout;
    }
    if (n != opt.partitions) {
      error_line = "log: " + opt.dir + " was created with " + std::to_string(n) +
                   " partitions but log.partitions is " + std::to_string(opt.partitions) +
                   "; changing the partition count of an existing log is not supported";
      return log_errc::partition_mismatch;
    }
    return {};
  }
  if (meta.error() == std::errc::no_such_file_or_directory) {
    if (auto ec = base::write_file_durably(fs_, opt.dir, kMetaFile, format::log_meta_text(opt.partitions))) {
      error_line = "log: cannot write " + meta_path + ": " + ec.message();
      return ec;
    }
    return {};
  }
  error_line = "log: cannot read " + meta_path + ": " + meta.error().message();
  return meta.error();
}

// The holes found before: a damaged file is refused rather than guessed at
// (it says which minutes a reconciliation must not take as checked).
std::error_code segmented_log::read_holes(std::vector<offset_hole>& holes, std::string& error_line) {
  const std::string holes_path = options_.dir + "/" + format::kHolesFile;
  auto text = base::read_file(fs_, holes_path);
  if (text) {
    if (format::parse_holes(*text, holes)) return {};
    error_line = "log: " + holes_path +
                 " (the record of lost offsets) is damaged; restore it from a backup, or move "
                 "it away to start without that record";
    return log_errc::bad_holes_file;
  }
  if (text.error() == std::errc::no_such_file_or_directory) return {};
  error_line = "log: cannot read " + holes_path + ": " + text.error().message();
  return text.error();
}

// Sync durability with the journal: the journal holds every acknowledged
// commit since the last completed checkpoint, contiguously per partition.
// What the active segments hold from the journal's first offset on was never
// fdatasync'd by itself, so it is rewritten from the journal rather than
// trusted (a power loss can keep later pages and lose earlier ones). This
// reads, per partition, where that starts and (offset, frame checksum) of
// every record the journal holds, in offset order.
std::error_code segmented_log::plan_journal_rewrite(std::vector<offset_t>& rewrite_from,
                                                    std::vector<journal_sums>& sums, std::string& error_line) {
  journal_ = std::make_unique<journal>(fs_, options_.dir + "/journal", options_.checkpoint_bytes);
  std::uint64_t commits = 0, damaged = 0;
  auto ec = journal_->replay(
      [&](const journal_chunk& c) {
        if (c.partition >= rewrite_from.size() || c.records == 0) return;
        rewrite_from[c.partition] = std::min(rewrite_from[c.partition], c.first_offset);
        auto& out = sums[c.partition];
        std::size_t pos = 0, size = 0;
        while (pos < c.frames.size() &&
               format::check_frame(c.frames.data() + pos, c.frames.size() - pos, size) == format::frame_check::ok) {
          out.emplace_back(base::get_u64(c.frames.data() + pos + format::kFrameOffsetPos),
                           base::get_u32(c.frames.data() + pos));
          pos += size;
        }
      },
      commits, damaged);
  if (ec) error_line = "log: cannot read the commit journal in " + options_.dir + "/journal: " + ec.message();
  for (auto& s : sums) std::sort(s.begin(), s.end());
  return ec;
}

// Copies back into the segments whatever the journal holds past their (cut)
// ends: acknowledged commits. Then starts an empty journal.
std::error_code segmented_log::restore_from_journal(recovery_report& report, std::string& error_line) {
  std::uint64_t commits = 0, damaged = 0;
  std::error_code replay_ec;
  auto ec = journal_->replay(
      [&](const journal_chunk& c) {
        if (replay_ec || c.partition >= partitions_.size()) return;
        replay_ec = partitions_[c.partition]->replay(c.first_offset, c.records, c.frames, report);
      },
      commits, damaged);
  if (!ec) ec = replay_ec;
  report.journal_commits = commits;
  report.corruptions += damaged;
  for (auto& p : partitions_) {
    if (!ec) ec = p->sync_unsynced();
  }
  if (!ec) ec = journal_->open();
  last_switch_ = std::chrono::steady_clock::now();
  if (ec) error_line = "log: cannot recover the commit journal in " + options_.dir + "/journal: " + ec.message();
  return ec;
}

// Offsets are never given out twice: a partition that ends below what a
// consumer already committed goes on from there, past a recorded hole. The
// holes file is rewritten when the holes changed.
std::error_code segmented_log::resume_past_floors(const std::vector<offset_hole>& known_holes,
                                                  recovery_report& report, std::string& error_line) {
  const std::int64_t found = now_ms();
  std::vector<offset_hole> all_holes;
  for (auto& part : partitions_) {
    const auto p = part->id();
    if (p < options_.resume_floor.size()) {
      if (auto ec = part->skip_to(options_.resume_floor[p], found)) {
        error_line = "log: cannot continue partition " + std::to_string(p) + " past its lost records: " + ec.message();
        return ec;
      }
    }
    if (options_.record_gaps) part->record_segment_gaps(found);
    for (const auto& h : part->holes()) all_holes.push_back(h);
  }
  report.holes = all_holes.size();
  if (all_holes == known_holes) return {};
  if (auto ec = base::write_file_durably(fs_, options_.dir, format::kHolesFile, format::holes_text(all_holes))) {
    error_line = "log: cannot write " + options_.dir + "/" + format::kHolesFile + ": " + ec.message();
    return ec;
  }
  return {};
}

result<std::unique_ptr<segmented_log>> segmented_log::open(log_options options, recovery_report& report,
                                                           std::string& error_line) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<segmented_log> log(new segmented_log(std::move(options)));
  const auto& opt = log->options_;
  if (opt.partitions == 0) {
    error_line = "log: partitions must be at least 1";
    return log_errc::invalid_partition;
  }
  if (auto ec = log->fs_.make_dirs(opt.dir)) {
    error_line = "log: cannot create " + opt.dir + ": " + ec.message();
    return ec;
  }
  if (auto ec = log->check_meta(error_line)) return ec;
  std::vector<offset_hole> known_holes;
  if (auto ec = log->read_holes(known_holes, error_line)) return ec;

  report = {};
  report.partitions = opt.partitions;
  const bool use_journal = opt.mode == durability::sync && opt.journal;
  std::vector<offset_t> rewrite_from(opt.partitions, UINT64_MAX);
  std::vector<journal_sums> sums(opt.partitions);
  const std::string fenced_path = opt.dir + "/" + kFencedFile;
  const bool distrust = static_cast<bool>(base::read_file(log->fs_, fenced_path));
  if (distrust) {
    spdlog::warn("log: the last run fenced the log after a failed fdatasync: rewriting every active "
                 "segment from the commit journal");
  }
  if (use_journal) {
    if (auto ec = log->plan_journal_rewrite(rewrite_from, sums, error_line)) return ec;
  }
  for (partition_id p = 0; p < opt.partitions; ++p) {
    auto part = std::make_unique<partition>(p, opt.dir + "/" + format::partition_dir_name(p), opt, log->fs_,
                                            log->stats_, [l = log.get()] { return l->fence(); });
    std::vector<offset_hole> mine;
    for (const auto& h : known_holes) {
      if (h.partition == p) mine.push_back(h);
    }
    part->set_holes(std::move(mine));
    if (auto ec = part->recover(report, rewrite_from[p], distrust, &sums[p])) {
      error_line = "log: cannot recover partition " + std::to_string(p) + " in " + part->dir() + ": " + ec.message();
      return ec;
    }
    log->partitions_.push_back(std::move(part));
  }
  if (use_journal) {
    if (auto ec = log->restore_from_journal(report, error_line)) return ec;
  }
  if (auto ec = log->resume_past_floors(known_holes, report, error_line)) return ec;
  if (distrust) {
    if (auto ec = log->fs_.remove(fenced_path); !ec) (void)log->fs_.sync_dir(opt.dir);
  }
  report.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return log;
}

void segmented_log::start() {
  base::mutex_lock lk(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  flusher_ = std::thread([this] { flusher_loop(); });
  if (journal_) {
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
  } else if (options_.preallocate > 0) {
    // Without the journal each group commit fdatasyncs the segments: keep
    // zeros ahead of their data. (With it, segments are synced in the
    // background and zero-filling would only double their writes.)
    preallocator_ = std::thread([this] { preallocator_loop(); });
  }
}

void segmented_log::preallocator_loop() {
  const std::uint64_t ahead = std::min(options_.preallocate, options_.segment_size);
  base::mutex_lock lk(mu_);
  while (!stopping_.load()) {
    lk.unlock();
    for (auto& p : partitions_) {
      if (p->wants_preallocation(ahead)) p->extend_preallocation(ahead);
    }
    lk.lock();
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    while (!stopping_.load() && lk.wait_until(prealloc_cv_, until)) {
    }
  }
}

void segmented_log::stop() {
  std::thread flusher;
  std::thread preallocator;
  bool never_started = false;
  {
    base::mutex_lock lk(mu_);
    if (stop_called_) return;
    stop_called_ = true;
    stopping_.store(true);
    flusher = std::move(flusher_);
    preallocator = std::move(preallocator_);
    never_started = !started_;
    started_ = true;
  }
  work_cv_.notify_one();
  durable_cv_.notify_all();
  prealloc_cv_.notify_all();
  if (preallocator.joinable()) preallocator.join();
  if (flusher.joinable()) {
    flusher.join();
  } else if (never_started) {
    // Still write and complete what was queued before start().
    for (auto& p : partitions_) p->close();
    bool more = false;
    while (run_batch_once(more)) {
    }
    final_sync_ok_ = sync_all_active();
  }
  // The checkpoint thread finishes a job it holds, then ends.
  { base::mutex_lock lk(checkpoint_mu_); }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  // Every segment synced: the journal's records are redundant, so the next
  // start need not rewrite from it (after a crash it does).
  if (journal_ && final_sync_ok_ && checkpoint_idle_.load()) {
    if (auto ec = journal_->clear()) {
      spdlog::warn("log: clearing the commit journal at stop failed (the next start rewrites "
                   "from it): {}", ec.message());
    }
  }
}

std::int64_t segmented_log::now_ms() const {
  if (options_.now_ms) return options_.now_ms();
  return base::wall_now_ms();
}

void segmented_log::append(partition_id p, const click_record& r, append_handler done) {
  if (p >= partitions_.size()) {
    done(log_errc::invalid_partition, 0);
    return;
  }
  if (stopping_.load(std::memory_order_relaxed)) {
    done(log_errc::stopped, 0);
    return;
  }
  if (fenced_.load(std::memory_order_relaxed)) {
    stats_.append_failures.fetch_add(1, std::memory_order_relaxed);
    done(log_errc::fenced, 0);
    return;
  }
  if (pending_bytes_.load(std::memory_order_relaxed) >= options_.max_pending_bytes) {
    stats_.append_failures.fetch_add(1, std::memory_order_relaxed);
    done(log_errc::overloaded, 0);
    return;
  }
  switch (partitions_[p]->enqueue(r, done, pending_bytes_)) {
    case partition::enqueue_result::invalid:
      done(log_errc::invalid_record, 0);
      return;
    case partition::enqueue_result::closed:
      done(log_errc::stopped, 0);
      return;
    case partition::enqueue_result::queued:
      break;
  }
  if (!work_.exchange(true)) {
    base::mutex_lock lk(mu_);
    work_cv_.notify_one();
  }
}

offset_t segmented_log::durable_end(partition_id p) const {
  return p < partitions_.size() ? partitions_[p]->durable_end() : 0;
}

offset_t segmented_log::start_offset(partition_id p) const {
  return p < partitions_.size() ? partitions_[p]->start_offset() : 0;
}

std::uint64_t segmented_log::durable_generation() const {
  return generation_.load(std::memory_order_acquire);
}

std::uint64_t segmented_log::wait_durable(std::uint64_t seen,
                                          std::chrono::steady_clock::time_point deadline) const {
  base::mutex_lock lk(mu_);
  while (generation_.load(std::memory_order_relaxed) == seen && !stopping_.load() &&
         lk.wait_until(durable_cv_, deadline)) {
  }
  return generation_.load(std::memory_order_relaxed);
}

std::unique_ptr<partition_reader> segmented_log::open_reader(partition_id p, offset_t from) {
  if (p >= partitions_.size()) return nullptr;
  return std::make_unique<segmented_reader>(*partitions_[p], fs_, stats_, from);
}

std::shared_ptr<void> segmented_log::pin(partition_id p, offset_t from) {
  if (p >= partitions_.size()) return nullptr;
  return partitions_[p]->pin(from);
}

std::vector<offset_hole> segmented_log::holes(partition_id p) const {
  if (p >= partitions_.size()) return {};
  return partitions_[p]->holes();
}

std::vector<segment_info> segmented_log::segments(partition_id p) const {
  if (p >= partitions_.size()) return {};
  return partitions_[p]->segments();
}

void segmented_log::set_delete_floor(partition_id p, offset_t offset) {
  if (p < partitions_.size()) partitions_[p]->set_delete_floor(offset);
}

std::error_code segmented_log::backup_plan(std::vector<backup_file>& files,
                                           std::vector<partition_cut>& cuts) const {
  if (fenced()) return log_errc::fenced;
  files.push_back({options_.dir + "/" + kMetaFile, kMetaFile, 0, true, false});
  const std::string holes = options_.dir + "/" + format::kHolesFile;
  if (::access(holes.c_str(), F_OK) == 0)
    files.push_back({holes, format::kHolesFile, 0, true, false});
  for (const auto& part : partitions_) {
    const std::string dir = std::filesystem::path(part->dir()).filename().string();
    partition_cut cut{part->id(), 0, 0};
    bool first = true;
    // Segments in offset order; only the last is unsealed. The cut is the
    // first one found unsealed: a segment sealed (and followed by another)
    // after its info was read is taken up to that info's durable end only.
    for (auto seg = part->find_segment(0); seg != nullptr;
         seg = part->next_segment(seg->base_offset())) {
      const segment_info info = seg->info();
      if (first) cut.start = info.base_offset;
      first = false;
      const std::string name = dir + "/" + std::filesystem::path(seg->path()).filename().string();
      files.push_back({seg->path(), name, info.bytes, false, info.sealed});
      cut.end = info.end_offset;
      if (!info.sealed) break;
      const std::string index = seg->index_path();
      if (::access(index.c_str(), F_OK) == 0) {
        files.push_back(
            {index, dir + "/" + std::filesystem::path(index).filename().string(), 0, true, true});
      }
    }
    cuts.push_back(cut);
  }
  return {};
}

void segmented_log::enforce_retention() {
  const auto now = now_ms();
  for (auto& p : partitions_) p->enforce_retention(now);
}

// Long on purpose: the group commit is one sequence on the flusher thread
// (take, write, journal, sync, publish, complete) whose steps share the
// batch and its failure handling.
bool segmented_log::run_batch_once(bool& more) {
  const std::size_t n = partitions_.size();
  std::vector<std::vector<pending_chunk>>& batches = batches_;
  batches.resize(n);
  std::uint64_t taken = 0;
  more = false;
  const auto cutoff = std::chrono::steady_clock::now() - options_.append_timeout;
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    bool left = false;
    taken += partitions_[i]->take(options_.batch_max_bytes, cutoff, batches[i], expired_, left);
    more = more || left;
    if (!expired_.empty()) {
      // Waited past the deadline: never written, so they hold no offset and
      // their callers learn it now rather than after the backlog.
      any = true;
      std::uint64_t records = 0;
      for (const auto& c : expired_) records += c.handlers.size();
      stats_.append_timeouts.fetch_add(records, std::memory_order_relaxed);
      log_append_error(static_cast<partition_id>(i), log_errc::timed_out);
      partitions_[i]->complete(expired_, log_errc::timed_out);
    }
    any = any || !batches[i].empty();
  }
  if (!any) {
    pending_bytes_.fetch_sub(taken, std::memory_order_relaxed);
    return false;
  }
  const auto now = now_ms();
  std::vector<std::error_code>& errors = errors_;
  errors.assign(n, {});
  // Write every partition first, then sync each, so the kernel can write back
  // the files in parallel while the first fdatasync runs.
  for (std::size_t i = 0; i < n; ++i) {
    if (!batches[i].empty()) errors[i] = partitions_[i]->write(batches[i], now);
  }
  const bool sync = options_.mode == durability::sync;
  if (sync && journal_) {
    // One journal record and one fdatasync for every partition written.
    journal_chunks_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (batches[i].empty() || errors[i]) continue;
      offset_t first = partitions_[i]->writing_first_offset();
      for (const auto& chunk : batches[i]) {
        const auto records = static_cast<std::uint32_t>(chunk.handlers.size());
        journal_chunks_.push_back({static_cast<partition_id>(i), first, records, chunk.frames});
        first += records;
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::error_code jec = journal_->append(journal_chunks_);
    stats_.syncs.fetch_add(1, std::memory_order_relaxed);
    stats_.sync_ns.fetch_add(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0).count()),
                             std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
      if (batches[i].empty() || errors[i]) continue;
      if (jec) {
        partitions_[i]->abort_write();
        errors[i] = jec;
      } else {
        errors[i] = partitions_[i]->commit(false);
      }
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      if (!batches[i].empty() && !errors[i]) errors[i] = partitions_[i]->commit(sync);
    }
  }
  pending_bytes_.fetch_sub(taken, std::memory_order_relaxed);
  stats_.batches.fetch_add(1, std::memory_order_relaxed);
  {
    base::mutex_lock lk(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  durable_cv_.notify_all();
  for (std::size_t i = 0; i < n; ++i) {
    if (batches[i].empty()) continue;
    if (errors[i]) log_append_error(static_cast<partition_id>(i), errors[i]);
    partitions_[i]->complete(batches[i], errors[i]);
  }
  return true;
}

void segmented_log::log_append_error(partition_id p, std::error_code ec) {
  // Logged once per burst: the failure count is in stats().append_failures.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_error_log_ >= std::chrono::seconds(10)) {
    last_error_log_ = now;
    if (ec == log_errc::timed_out) {
      spdlog::error("log: partition {}: appends failed: {} (the disk is not keeping up)", p,
                    ec.message());
    } else {
      spdlog::error("log: partition {}: appends failed: {} (appends fail until the disk recovers)",
                    p, ec.message());
    }
  }
}

void segmented_log::maybe_switch_journal() {
  if (!journal_ || journal_->bytes() == 0) return;
  const bool full = journal_->bytes() >= options_.checkpoint_bytes;
  const bool old = std::chrono::steady_clock::now() - last_switch_ >= options_.checkpoint_interval;
  if ((!full && !old) || !checkpoint_idle_.load(std::memory_order_acquire)) return;
  // Every record in the current file is in a segment (written); the segments
  // to sync are those written without an fdatasync since the last switch.
  std::vector<std::shared_ptr<segment>> job;
  for (auto& p : partitions_) {
    if (auto s = p->take_unsynced()) job.push_back(std::move(s));
  }
  journal_->switch_files();
  last_switch_ = std::chrono::steady_clock::now();
  checkpoint_idle_.store(false, std::memory_order_release);
  {
    base::mutex_lock lk(checkpoint_mu_);
    checkpoint_job_ = std::move(job);
    checkpoint_pending_ = true;
  }
  checkpoint_cv_.notify_one();
}

void segmented_log::checkpoint_loop() {
  base::mutex_lock lk(checkpoint_mu_);
  for (;;) {
    while (!checkpoint_pending_ && !stopping_.load()) lk.wait(checkpoint_cv_);
    if (!checkpoint_pending_) return;
    auto job = std::move(checkpoint_job_);
    lk.unlock();
    bool ok = true;
    for (const auto& seg : job) {
      const auto t0 = std::chrono::steady_clock::now();
      if (auto ec = seg->sync_data()) {
        // Never retried: a retry may "succeed" on pages marked clean without
        // their data. The retired journal file holds what the segment should,
        // so it is never reused (this checkpoint never completes) and the
        // log refuses appends until a restart rewrites the segment from it.
        ok = false;
        if (fence()) {
          spdlog::critical(
              "log: checkpoint: fdatasync of partition {} segment {} failed: {}. The log refuses "
              "every append from now on (clicks are answered unrecorded). Restart adclick: "
              "recovery rewrites the segment from the commit journal.",
              seg->partition(), seg->base_offset(), ec.message());
        }
        break;
      }
      stats_.syncs.fetch_add(1, std::memory_order_relaxed);
      stats_.sync_ns.fetch_add(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0).count()),
                               std::memory_order_relaxed);
    }
    lk.lock();
    checkpoint_pending_ = false;
    if (ok) {
      stats_.checkpoints.fetch_add(1, std::memory_order_relaxed);
      checkpoint_idle_.store(true, std::memory_order_release);
    }
  }
}

void segmented_log::flusher_loop() {
  auto next_maintenance = std::chrono::steady_clock::now() + kMaintenanceEvery;
  for (;;) {
    {
      base::mutex_lock lk(mu_);
      while (!work_.load() && !stopping_.load() && lk.wait_until(work_cv_, next_maintenance)) {
      }
    }
    if (stopping_.load()) break;
    if (work_.exchange(false)) {
      if (options_.batch_max_delay.count() > 0 &&
          pending_bytes_.load(std::memory_order_relaxed) < options_.batch_max_bytes) {
        std::this_thread::sleep_for(options_.batch_max_delay);  // linger for a bigger batch
      }
      // Until the queues are empty: a burst larger than one batch per
      // partition takes several group commits, with no new append to wake us.
      bool more = false;
      while (run_batch_once(more)) {
        if (!work_.exchange(false) && !more) break;
      }
    }
    maybe_switch_journal();
    if (std::chrono::steady_clock::now() >= next_maintenance) {
      next_maintenance = std::chrono::steady_clock::now() + kMaintenanceEvery;
      const auto now = now_ms();
      for (auto& p : partitions_) {
        p->seal_if_old(now);
        p->enforce_retention(now);
      }
    }
  }
  // Stop: refuse new appends, then write and sync everything queued.
  for (auto& p : partitions_) p->close();
  bool more = false;
  while (run_batch_once(more)) {
  }
  final_sync_ok_ = sync_all_active();
}

bool segmented_log::fence() {
  base::mutex_lock lk(fence_mu_);
  if (fenced_.load()) return false;
  stats_.sync_failures.fetch_add(1, std::memory_order_relaxed);
  // The marker first: once appends are refused, a restart must find it.
  record_fence();
  fenced_.store(true, std::memory_order_release);
  return true;
}

void segmented_log::record_fence() {
  // Best effort on a disk that just failed: without the marker a restart
  // without a reboot trusts the page cache for records that pass their
  // checksums.
  if (auto ec = base::write_file_durably(fs_, options_.dir, kFencedFile, "fenced\n")) {
    spdlog::error("log: cannot record the fence in {}/{}: {}", options_.dir, kFencedFile, ec.message());
  }
}

bool segmented_log::sync_all_active() {
  bool ok = !fenced_.load();
  for (auto& p : partitions_) ok = !p->sync_active() && ok;
  return ok;
}

}  // namespace adclick::log
