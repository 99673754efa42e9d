#include "log/partition.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/bytes.h"
#include "base/mutex.h"
#include "base/wall_time.h"
#include "log/log_errc.h"
#include "log/record_format.h"

namespace adclick::log {
namespace {
// A seal slower than this is logged as a warning.
constexpr long long kSlowSealMs = 100;
// Journal mode: the segments' writeback is started in steps of this many
// bytes, at page boundaries.
constexpr std::uint64_t kWritebackPage = 4096;
constexpr std::uint64_t kWritebackStep = 256 * 1024;
}  // namespace

partition::partition(partition_id id, std::string dir, const log_options& options,
                     base::file_system& fs, log_stats& stats, std::function<bool()> fence)
    : id_(id), dir_(std::move(dir)), options_(options), fs_(fs), stats_(stats), fence_(std::move(fence)) {}

std::error_code partition::sync_segment(segment& s, const char* why) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto ec = s.sync_data();
  stats_.syncs.fetch_add(1, std::memory_order_relaxed);
  stats_.sync_ns.fetch_add(static_cast<std::uint64_t>((std::chrono::steady_clock::now() - t0).count()),
                           std::memory_order_relaxed);
  if (ec && fence_()) {
    spdlog::critical(
        "log: partition {}: fdatasync of segment {} ({}) failed: {}. Its unsynced pages may be "
        "lost and are never trusted again: the log refuses every append from now on (clicks "
        "are answered unrecorded). Restart adclick: recovery rewrites them from the commit journal.",
        id_, s.base_offset(), why, ec.message());
  }
  return ec;
}

partition::~partition() = default;

void partition::set_holes(std::vector<offset_hole> holes) {
  base::writer_lock lk(segments_mu_);
  holes_ = std::move(holes);
}

std::vector<offset_hole> partition::holes() const {
  base::reader_lock lk(segments_mu_);
  return holes_;
}

bool partition::add_hole(const offset_hole& h) {
  base::writer_lock lk(segments_mu_);
  for (const auto& e : holes_) {
    if (e.from == h.from && e.to == h.to) return false;
  }
  holes_.push_back(h);
  std::sort(holes_.begin(), holes_.end(),
            [](const offset_hole& a, const offset_hole& b) { return a.from < b.from; });
  return true;
}

std::int64_t partition::newest_event_before(offset_t before) const {
  base::reader_lock lk(segments_mu_);
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    const auto info = (*it)->info();
    if (info.records > 0 && info.base_offset < before) return info.max_event_time_ms;
  }
  return INT64_MIN;
}

std::error_code partition::skip_to(offset_t next, std::int64_t found_ms) {
  if (next <= next_offset_) return {};
  offset_hole h;
  h.partition = id_;
  h.from = next_offset_;
  h.to = next;
  h.after_event_ms = newest_event_before(next_offset_);
  h.found_ms = found_ms;
  spdlog::error(
      "log: partition {}: the log ends at offset {} but offsets up to {} were already given out "
      "and read (records lost, e.g. a power loss with durability \"os\"); offsets {}..{} are "
      "recorded as a hole and the log continues at {}",
      id_, next_offset_, next, next_offset_, next - 1, next);
  add_hole(h);
  if (active_) {
    if (active_->stats().records == 0) {
      // Nothing in it: a segment based below `next` would only confuse the
      // gap, so it goes.
      {
        base::writer_lock lk(segments_mu_);
        segments_.erase(std::remove(segments_.begin(), segments_.end(), active_), segments_.end());
      }
      if (auto ec = fs_.remove(active_->path())) return ec;
      if (auto ec = fs_.sync_dir(dir_)) return ec;
      active_.reset();
      base::mutex_lock elk(extend_mu_);
      prealloc_seg_.reset();
    } else if (auto ec = seal_active()) {
      return ec;
    }
  }
  next_offset_ = next;
  if (auto ec = open_new_segment()) return ec;
  durable_end_.store(next_offset_, std::memory_order_release);
  return {};
}

bool partition::record_segment_gaps(std::int64_t found_ms) {
  std::vector<offset_hole> gaps;
  {
    base::reader_lock lk(segments_mu_);
    for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
      const auto a = segments_[i]->info();
      const offset_t next = segments_[i + 1]->base_offset();
      if (a.end_offset < next) {
        gaps.push_back({id_, a.end_offset, next, a.records > 0 ? a.max_event_time_ms : INT64_MIN, found_ms});
      }
    }
  }
  bool added = false;
  for (const auto& g : gaps) {
    bool known = false;
    for (const auto& h : holes()) known = known || (h.from <= g.from && g.to <= h.to);
    if (!known) added = add_hole(g) || added;
  }
  return added;
}

std::error_code partition::list_segments(std::vector<offset_t>& bases) {
  if (auto ec = fs_.make_dirs(dir_)) return ec;
  auto names = fs_.list(dir_);
  if (!names) return names.error();
  std::vector<offset_t> indexes;
  for (const auto& name : *names) {
    offset_t base = 0;
    if (format::parse_segment_file_name(name, ".seg", base)) {
      bases.push_back(base);
    } else if (format::parse_segment_file_name(name, ".idx", base)) {
      indexes.push_back(base);
    } else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      (void)fs_.remove(dir_ + "/" + name);  // an index write that did not finish
    } else {
      spdlog::error("log: partition {}: unexpected file '{}' in {}", id_, name, dir_);
      return log_errc::bad_layout;
    }
  }
  std::sort(bases.begin(), bases.end());
  for (offset_t idx : indexes) {
    if (!std::binary_search(bases.begin(), bases.end(), idx)) {
      (void)fs_.remove(dir_ + "/" + format::index_file_name(idx));  // retention mid-delete
    }
  }
  return {};
}

result<std::shared_ptr<segment>> partition::open_for_recovery(offset_t base, bool last, bool& dropped) {
  auto seg = segment::open(fs_, dir_, id_, base, false);
  if (seg) return seg;
  auto sz = fs_.open(dir_ + "/" + format::segment_file_name(base), O_RDONLY);
  std::uint64_t bytes = 0;
  if (sz) {
    if (auto n = fs_.size(*sz)) bytes = *n;
    fs_.close(*sz);
  }
  if (last && sz && bytes <= format::kSegmentHeaderSize) {
    // Created but its header never became durable: it holds no record.
    spdlog::warn("log: partition {}: removing segment {} with a torn header ({} bytes)", id_, base, bytes);
    (void)fs_.remove(dir_ + "/" + format::segment_file_name(base));
    (void)fs_.sync_dir(dir_);
    dropped = true;
    return seg.error();
  }
  spdlog::error("log: partition {}: segment {}: {}", id_, base, seg.error().message());
  return seg.error();
}

void partition::report_corruption(const segment& s, std::uint64_t pos, std::uint64_t len, bool at_end,
                                  recovery_report& report) {
  if (at_end) {
    spdlog::error("log: partition {}: segment {}: {} bad bytes at the end, from byte {}", id_, s.base_offset(), len,
                  pos);
  } else {
    spdlog::error("log: partition {}: segment {}: bad record at byte {}, skipped {} bytes to the next valid record",
                  id_, s.base_offset(), pos, len);
  }
  ++report.corruptions;
  report.corrupt_bytes += len;
  stats_.corruptions.fetch_add(1, std::memory_order_relaxed);
  stats_.corrupt_bytes.fetch_add(len, std::memory_order_relaxed);
}

std::error_code partition::cut_segment(segment& s, std::uint64_t pos) {
  if (auto ec = fs_.truncate(s.fd(), pos)) return ec;
  return s.sync_data();
}

// One loop over the frames, because what a bad stretch means depends on what
// follows it (see the comments in it): splitting it would spread that state
// over several functions.
std::error_code partition::scan_for_recovery(segment& s, const recovery_plan& plan, frame_scanner& scanner,
                                             recovered_segment& out, recovery_report& report) {
  auto size = fs_.size(s.fd());
  if (!size) return size.error();
  out.stats.end_offset = s.base_offset();
  out.stats.data_size = format::kSegmentHeaderSize;
  scanner.reset(s.fd(), format::kSegmentHeaderSize, *size);
  offset_t min_offset = s.base_offset();
  // Only the active segment is cut for the journal: a sealed one was
  // fdatasync'd whole when it was sealed.
  const offset_t cut_at = plan.last ? plan.rewrite_from : UINT64_MAX;
  // A bad stretch in the active segment is judged by what follows it: if the
  // journal holds what comes after, it goes with the cut; otherwise it is
  // damage in bytes that had been synced.
  bool pending_bad = false;
  std::uint64_t pending_pos = 0, pending_len = 0;
  auto cut_for_journal = [&](std::uint64_t pos) {
    spdlog::info("log: partition {}: segment {}: rewriting from offset {} (byte {}, {} bytes) from the commit journal",
                 id_, s.base_offset(), cut_at, pos, *size - pos);
    return cut_segment(s, pos);
  };
  for (;;) {
    auto item = scanner.next(min_offset);
    if (!item) return item.error();
    const bool record = item->kind == frame_scanner::item::record;
    // From the journal's first offset on, a bad stretch followed by records
    // is a hole the journal fills; with `distrust`, intact-looking records
    // are rewritten too (the page cache may hold what the disk lost after a
    // failed fdatasync).
    if (record && item->offset >= cut_at &&
        (plan.distrust || pending_bad ||
         differs_from_journal(plan.sums, item->offset, item->payload.data() - format::kFrameHeaderSize))) {
      return cut_for_journal(pending_bad ? pending_pos : item->position);
    }
    if (record && pending_bad) {
      report_corruption(s, pending_pos, pending_len, false, report);  // before the journal's records: synced bytes damaged
      pending_bad = false;
    }
    if (item->kind == frame_scanner::item::corrupt && cut_at != UINT64_MAX) {
      pending_bad = true;
      pending_pos = item->position;
      pending_len = item->skipped;
      continue;
    }
    if (record) {
      const auto t = static_cast<std::int64_t>(base::get_u64(item->payload.data() + format::kPayloadEventTimePos));
      if (out.index.empty() || item->position - out.last_index_pos >= format::kIndexInterval) {
        out.index.push_back({item->offset, item->position});
        out.last_index_pos = item->position;
      }
      out.stats.add(item->offset, t, item->position, item->frame_size);
      min_offset = item->offset + 1;
      ++report.records_scanned;
      continue;
    }
    if (item->kind == frame_scanner::item::corrupt) {
      report_corruption(s, item->position, item->skipped, false, report);
      continue;
    }
    // The end of the frames.
    if (pending_bad) {
      // Bad bytes with no valid record after them: the tail, cut (the
      // journal restores what it holds of it).
      return cut_for_journal(pending_pos);
    }
    if (item->skipped == 0) return {};
    if (item->zero_tail) return cut_segment(s, item->position);  // preallocated space: re-made as needed
    if (!plan.last) {
      report_corruption(s, item->position, item->skipped, true, report);
      return {};
    }
    spdlog::warn("log: partition {}: segment {}: cutting a torn tail of {} bytes at byte {}", id_, s.base_offset(),
                 item->skipped, item->position);
    report.torn_bytes_cut += item->skipped;
    return cut_segment(s, item->position);
  }
}

bool partition::differs_from_journal(const journal_sums* sums, offset_t offset, const char* frame) {
  if (sums == nullptr) return false;
  auto it = std::lower_bound(sums->begin(), sums->end(), std::pair<offset_t, std::uint32_t>(offset, 0));
  return it != sums->end() && it->first == offset && it->second != base::get_u32(frame);
}

std::error_code partition::recover(recovery_report& report, offset_t rewrite_from, bool distrust,
                                   const journal_sums* sums) {
  std::vector<offset_t> bases;
  if (auto ec = list_segments(bases)) return ec;
  frame_scanner scanner(fs_);
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const recovery_plan plan{i + 1 == bases.size(), rewrite_from, distrust, sums};
    bool dropped = false;
    auto seg = open_for_recovery(bases[i], plan.last, dropped);
    if (dropped) break;
    if (!seg) return seg.error();
    ++report.segments;
    auto& s = *seg;
    // A sealed segment with a usable index is taken as it is (the last one
    // too: sealed just before a stop); the active one, or one whose index
    // is unusable, is scanned.
    if (!s->load_index()) {
      base::writer_lock lk(segments_mu_);
      segments_.push_back(s);
      continue;
    }
    recovered_segment found;
    if (auto ec = scan_for_recovery(*s, plan, scanner, found, report)) return ec;
    s->set_contents(found.stats, std::move(found.index));
    s->publish_durable(found.stats.data_size);
    if (!plan.last) {
      if (auto ec = s->seal()) return ec;
      ++report.indexes_rebuilt;
    } else {
      active_ = s;
      last_index_pos_ = found.last_index_pos;
      base::mutex_lock lk(extend_mu_);
      prealloc_seg_ = s;
      zeroed_end_.store(found.stats.data_size);
      data_end_.store(found.stats.data_size);
    }
    base::writer_lock lk(segments_mu_);
    segments_.push_back(s);
  }
  // Nothing reads the partition yet; the lock keeps the rule simple.
  base::reader_lock lk(segments_mu_);
  next_offset_ = segments_.empty() ? 0 : segments_.back()->stats().end_offset;
  for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
    const offset_t end = segments_[i]->stats().end_offset;
    const offset_t next = segments_[i + 1]->base_offset();
    if (end > next) {
      spdlog::error("log: partition {}: segments {} and {} overlap", id_, segments_[i]->base_offset(), next);
      return log_errc::bad_layout;
    }
  }
  durable_end_.store(next_offset_, std::memory_order_release);
  return {};
}

partition::enqueue_result partition::enqueue(const click_record& r, append_handler& done,
                                             std::atomic<std::uint64_t>& pending_total) {
  base::mutex_lock lk(pending_mu_);
  if (closed_) return enqueue_result::closed;
  if (pending_.empty() || pending_.back().frames.size() >= options_.batch_max_bytes) {
    if (!spare_.empty()) {
      pending_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    } else {
      pending_.emplace_back();
    }
  }
  auto& chunk = pending_.back();
  if (chunk.handlers.empty()) chunk.first_queued = std::chrono::steady_clock::now();
  const std::size_t before = chunk.frames.size();
  if (!format::append_click_frame(chunk.frames, r)) {
    if (chunk.frames.empty()) {
      spare_.push_back(std::move(chunk));
      pending_.pop_back();
    }
    return enqueue_result::invalid;
  }
  chunk.handlers.push_back(std::move(done));
  pending_total.fetch_add(chunk.frames.size() - before, std::memory_order_relaxed);
  return enqueue_result::queued;
}

void partition::close() {
  base::mutex_lock lk(pending_mu_);
  closed_ = true;
}

offset_t partition::start_offset() const {
  base::reader_lock lk(segments_mu_);
  return segments_.empty() ? durable_end() : segments_.front()->base_offset();
}

std::vector<segment_info> partition::segments() const {
  base::reader_lock lk(segments_mu_);
  std::vector<segment_info> out;
  out.reserve(segments_.size());
  for (const auto& s : segments_) out.push_back(s->info());
  return out;
}

std::shared_ptr<segment> partition::find_segment(offset_t offset) const {
  base::reader_lock lk(segments_mu_);
  // The last segment whose base is <= offset, else the first one.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](offset_t o, const auto& s) { return o < s->base_offset(); });
  if (it == segments_.begin()) return segments_.empty() ? nullptr : segments_.front();
  return *std::prev(it);
}

std::shared_ptr<segment> partition::next_segment(offset_t base_offset) const {
  base::reader_lock lk(segments_mu_);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), base_offset,
                             [](offset_t o, const auto& s) { return o < s->base_offset(); });
  return it == segments_.end() ? nullptr : *it;
}

std::shared_ptr<void> partition::pin(offset_t from) {
  std::multiset<offset_t>::iterator it;
  {
    base::writer_lock lk(segments_mu_);
    it = pins_.insert(from);
  }
  return std::shared_ptr<void>(nullptr, [this, it](void*) {
    base::writer_lock lk(segments_mu_);
    pins_.erase(it);
  });
}

void partition::set_delete_floor(offset_t offset) {
  offset_t cur = delete_floor_.load();
  while (offset > cur && !delete_floor_.compare_exchange_weak(cur, offset)) {
  }
}

std::uint64_t partition::take(std::uint64_t max_bytes, std::chrono::steady_clock::time_point cutoff,
                              std::vector<pending_chunk>& batch, std::vector<pending_chunk>& expired,
                              bool& more) {
  base::mutex_lock lk(pending_mu_);
  std::uint64_t bytes = 0;
  std::size_t n = 0;
  // Chunks are queued in order, so the ones that waited too long are first.
  while (n < pending_.size() && pending_[n].first_queued < cutoff) {
    bytes += pending_[n].frames.size();
    expired.push_back(std::move(pending_[n]));
    ++n;
  }
  std::uint64_t taken = 0;
  const std::size_t first = n;
  while (n < pending_.size() && (n == first || taken + pending_[n].frames.size() <= max_bytes)) {
    taken += pending_[n].frames.size();
    batch.push_back(std::move(pending_[n]));
    ++n;
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  more = !pending_.empty();
  return bytes + taken;
}

std::error_code partition::seal_active() {
  if (!active_) return {};
  {
    // Drop the preallocated zeros: a sealed file holds exactly its records.
    base::mutex_lock lk(extend_mu_);
    const std::uint64_t data = active_->stats().data_size;
    if (zeroed_end_.load() > data) {
      if (auto ec = fs_.truncate(active_->fd(), data)) return ec;
    }
    prealloc_seg_.reset();
    zeroed_end_.store(0);
    data_end_.store(0);
  }
  // Sealing runs on the flusher: this partition's appends wait for it. A slow
  // one is worth a line, since it shows as a latency spike of the clicks.
  const auto t0 = std::chrono::steady_clock::now();
  if (auto ec = active_->seal()) {
    spdlog::error("log: partition {}: sealing segment {} failed: {}", id_, active_->base_offset(),
                  ec.message());
    if (active_->poisoned() && fence_()) {
      spdlog::critical(
          "log: partition {}: the fdatasync of segment {} at its seal failed: the log refuses "
          "every append from now on (clicks are answered unrecorded). Restart adclick: recovery "
          "rewrites the segment from the commit journal.",
          id_, active_->base_offset());
    }
    return ec;
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (ms >= kSlowSealMs) {
    spdlog::warn("log: partition {}: sealing segment {} ({} MiB) took {} ms", id_, active_->base_offset(),
                 active_->stats().data_size >> 20, ms);
  }
  stats_.segments_sealed.fetch_add(1, std::memory_order_relaxed);
  active_.reset();
  return {};
}

std::error_code partition::open_new_segment() {
  auto seg = segment::create(fs_, dir_, id_, next_offset_);
  if (!seg) return seg.error();
  active_ = *seg;
  last_index_pos_ = 0;
  {
    base::mutex_lock lk(extend_mu_);
    prealloc_seg_ = active_;
    zeroed_end_.store(format::kSegmentHeaderSize);
    data_end_.store(format::kSegmentHeaderSize);
  }
  base::writer_lock lk(segments_mu_);
  segments_.push_back(active_);
  return {};
}

std::error_code partition::write(std::vector<pending_chunk>& batch, std::int64_t now_ms) {
  writing_ = {};
  if (active_) {
    const auto st = active_->stats();
    const bool full = st.data_size >= options_.segment_size;
    const bool old = st.records > 0 && now_ms - active_->created_ms() >= options_.segment_age.count();
    if (full || old) {
      if (auto ec = seal_active()) return ec;
    }
  }
  if (!active_) {
    if (auto ec = open_new_segment()) return ec;
  }
  auto& w = writing_;
  w.stats = active_->stats();
  w.pre_size = w.stats.data_size;
  w.pre_next = next_offset_;
  w.first_offset = next_offset_;
  w.last_index_pos = last_index_pos_;
  std::uint64_t pos = w.pre_size;
  for (auto& chunk : batch) {
    char* f = chunk.frames.data();
    char* const end = f + chunk.frames.size();
    while (f < end) {
      const std::size_t size = format::frame_size(f);
      format::seal_frame(f, next_offset_);
      const auto t = static_cast<std::int64_t>(
          base::get_u64(f + format::kFrameHeaderSize + format::kPayloadEventTimePos));
      if (w.stats.records == 0 || pos - w.last_index_pos >= format::kIndexInterval) {
        w.index.push_back({next_offset_, pos});
        w.last_index_pos = pos;
      }
      w.stats.add(next_offset_, t, pos, size);
      ++next_offset_;
      pos += size;
      f += size;
    }
  }
  w.active = true;
  // Below zeroed_end_ the preallocator never writes: no lock needed there.
  // A lock taken or not at run time, which the analysis cannot follow: on
  // the native mutex (nothing guarded is touched under it here).
  std::unique_lock<std::mutex> extending;
  if (pos > zeroed_end_.load(std::memory_order_acquire)) {
    extending = std::unique_lock(extend_mu_.native());
  }
  std::uint64_t at = w.pre_size;
  for (auto& chunk : batch) {
    if (auto ec = fs_.pwrite_all(active_->fd(), chunk.frames.data(), chunk.frames.size(), at)) {
      if (extending.owns_lock()) extending.unlock();
      rollback_write();
      return ec;
    }
    at += chunk.frames.size();
  }
  data_end_.store(pos, std::memory_order_release);
  if (options_.mode == durability::sync && options_.journal) {
    // The journal makes the batch durable; start the segment's writeback
    // ahead so a checkpoint's fdatasync finds little left to write. In whole
    // pages and large steps: a group commit adds a few KiB, and starting
    // each one's writeback cost a device request (and a rewrite of the
    // page it shares with the next) per partition per commit.
    if (writeback_segment_ != active_.get()) {
      writeback_segment_ = active_.get();
      writeback_end_ = 0;
    }
    const std::uint64_t whole = pos & ~(kWritebackPage - 1);
    if (whole >= writeback_end_ + kWritebackStep) {
      fs_.start_writeback(active_->fd(), writeback_end_, whole - writeback_end_);
      writeback_end_ = whole;
    }
  }
  stats_.bytes_written.fetch_add(pos - w.pre_size, std::memory_order_relaxed);
  return {};
}

void partition::rollback_write() {
  auto& w = writing_;
  if (!w.active) return;
  // Cut the file back so no part of the failed batch can be read or recovered
  // (the preallocated zeros go too; the preallocator makes them again).
  base::mutex_lock lk(extend_mu_);
  if (auto ec = fs_.truncate(active_->fd(), w.pre_size)) {
    spdlog::error("log: partition {}: cutting back a failed write failed: {}", id_, ec.message());
  }
  zeroed_end_.store(w.pre_size);
  data_end_.store(w.pre_size);
  next_offset_ = w.pre_next;
  w.active = false;
}

std::error_code partition::commit(bool sync) {
  auto& w = writing_;
  if (!w.active) return {};
  if (sync) {
    if (const std::error_code ec = sync_segment(*active_, "group commit")) {
      rollback_write();
      return ec;
    }
  }
  unsynced_ = unsynced_ || !sync;
  active_->append_contents(w.stats, w.index);
  last_index_pos_ = w.last_index_pos;
  active_->publish_durable(w.stats.data_size);
  durable_end_.store(next_offset_, std::memory_order_release);
  w.active = false;
  return {};
}

void partition::complete(std::vector<pending_chunk>& batch, std::error_code ec) {
  offset_t offset = writing_.first_offset;
  std::uint64_t n = 0;
  for (const auto& chunk : batch) n += chunk.handlers.size();
  // Counted before the handlers run, so a caller that saw its handler sees the count.
  (ec ? stats_.append_failures : stats_.appends).fetch_add(n, std::memory_order_relaxed);
  for (auto& chunk : batch) {
    for (auto& h : chunk.handlers) {
      try {
        h(ec, ec ? 0 : offset);
      } catch (const std::exception& e) {
        spdlog::error("log: append handler threw: {}", e.what());
      }
      ++offset;
    }
  }
  base::mutex_lock lk(pending_mu_);
  for (auto& chunk : batch) {
    chunk.frames.clear();
    chunk.handlers.clear();
    if (spare_.size() < 4) spare_.push_back(std::move(chunk));
  }
  batch.clear();
}

void partition::seal_if_old(std::int64_t now_ms) {
  if (!active_) return;
  const auto st = active_->stats();
  if (st.records > 0 && now_ms - active_->created_ms() >= options_.segment_age.count()) {
    (void)seal_active();
  }
}

bool partition::wants_preallocation(std::uint64_t ahead) const {
  const std::uint64_t zeroed = zeroed_end_.load(std::memory_order_acquire);
  const std::uint64_t data = data_end_.load(std::memory_order_acquire);
  return zeroed != 0 && zeroed < data + ahead / 2;
}

bool partition::extend_preallocation(std::uint64_t ahead) {
  static const std::string zeros(1 << 20, '\0');
  base::mutex_lock lk(extend_mu_);
  if (!prealloc_seg_) return false;
  const std::uint64_t data = data_end_.load();
  const std::uint64_t start = std::max(zeroed_end_.load(), data);
  const std::uint64_t target = data + ahead;
  if (start >= data + ahead / 2) return false;
  for (std::uint64_t at = start; at < target;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), target - at));
    if (auto ec = fs_.pwrite_all(prealloc_seg_->fd(), zeros.data(), n, at)) {
      // No harm done: the flusher keeps writing past the zeros, just slower.
      (void)fs_.truncate(prealloc_seg_->fd(), start);
      return false;
    }
    at += n;
  }
  // This fdatasync also flushes data written since the last commit (os
  // mode, or a commit in progress): its failure poisons the segment too.
  if (sync_segment(*prealloc_seg_, "preallocation")) {
    (void)fs_.truncate(prealloc_seg_->fd(), start);
    return false;
  }
  zeroed_end_.store(target, std::memory_order_release);
  return true;
}

std::error_code partition::sync_unsynced() {
  if (!unsynced_ || !active_) {
    unsynced_ = false;
    return {};
  }
  if (auto ec = sync_segment(*active_, "recovery")) return ec;
  unsynced_ = false;
  return {};
}

std::shared_ptr<segment> partition::take_unsynced() {
  if (!unsynced_ || !active_) {
    unsynced_ = false;
    return nullptr;
  }
  unsynced_ = false;
  return active_;
}

std::error_code partition::replay(offset_t first_offset, std::uint32_t records,
                                  std::string_view frames, recovery_report& report) {
  if (first_offset + records <= next_offset_) return {};  // the segment has them
  if (first_offset > next_offset_) {
    // Records the segments should hold below the journal's first one are
    // gone (synced bytes lost: a damaged disk). The journal's records are
    // still restored at their own offsets, after a recorded hole.
    spdlog::error(
        "log: partition {}: the journal continues at offset {} but the segments end at {}; "
        "records {}..{} are lost",
        id_, first_offset, next_offset_, next_offset_, first_offset - 1);
    ++report.corruptions;
    const std::int64_t found = options_.now_ms ? options_.now_ms() : base::wall_now_ms();
    if (auto ec = skip_to(first_offset, found)) return ec;
  }
  // Keep the frames from next_offset_ on; write() re-seals them with the very
  // same offsets.
  std::vector<pending_chunk> batch(1);
  std::size_t pos = 0;
  std::uint64_t restored = 0;
  while (pos < frames.size()) {
    std::size_t size = 0;
    if (format::check_frame(frames.data() + pos, frames.size() - pos, size) != format::frame_check::ok) {
      ++report.corruptions;
      break;
    }
    const offset_t off = base::get_u64(frames.data() + pos + format::kFrameOffsetPos);
    if (off >= next_offset_ + restored) {
      if (off != next_offset_ + restored) break;  // not contiguous: stop here
      batch[0].frames.append(frames.data() + pos, size);
      ++restored;
    }
    pos += size;
  }
  if (restored == 0) return {};
  const std::int64_t now =
      options_.now_ms ? options_.now_ms() : base::wall_now_ms();
  if (auto ec = write(batch, now)) return ec;
  // Synced once for all chunks: open() syncs every partition after the replay.
  if (auto ec = commit(false)) return ec;
  report.journal_records_restored += restored;
  return {};
}

std::error_code partition::sync_active() {
  return active_ ? sync_segment(*active_, "stop") : std::error_code{};
}

void partition::enforce_retention(std::int64_t now_ms) {
  const offset_t floor = delete_floor_.load(std::memory_order_acquire);
  for (;;) {
    std::shared_ptr<segment> oldest;
    {
      base::reader_lock lk(segments_mu_);
      if (segments_.size() < 2) return;  // never the newest segment
      oldest = segments_.front();
    }
    const auto info = oldest->info();
    if (!info.sealed || info.end_offset > floor ||
        (info.records > 0 && now_ms - info.max_event_time_ms < options_.retention.count())) {
      return;
    }
    {
      base::writer_lock lk(segments_mu_);
      // A reader pinned records of this segment (checked under the lock that
      // pin() takes, so a pin is either seen here or made after the erase).
      if (!pins_.empty() && *pins_.begin() < info.end_offset) return;
      segments_.erase(segments_.begin());
    }
    if (auto ec = oldest->remove_files()) {
      spdlog::error("log: partition {}: deleting segment {} failed: {}", id_, info.base_offset,
                    ec.message());
      return;
    }
    stats_.segments_deleted.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("log: partition {}: deleted segment {} (offsets {}..{}, {} records)", id_,
                 info.base_offset, info.base_offset, info.end_offset, info.records);
  }
}

}  // namespace adclick::log
