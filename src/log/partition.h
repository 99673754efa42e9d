#pragma once
// One partition of the segmented log: its segment files, the appends waiting
// for the next group commit, and its durable end.

#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "adclick/click_log.h"
#include "base/mutex.h"
#include "log/log_options.h"
#include "log/segment.h"

namespace adclick::log {

// (offset, frame checksum) pairs, sorted: what the commit journal holds.
using journal_sums = std::vector<std::pair<offset_t, std::uint32_t>>;

// Encoded frames waiting for the flusher, with one handler per frame, in order.
struct pending_chunk {
  std::string frames;
  std::vector<append_handler> handlers;
  // When its first record was queued: the whole chunk times out from then.
  std::chrono::steady_clock::time_point first_queued{};
};

class partition {
 public:
  // `fence` is called when an fdatasync of a segment fails: it fences the
  // log and returns true the first time (any thread).
  partition(partition_id id, std::string dir, const log_options& options, base::file_system& fs,
            log_stats& stats, std::function<bool()> fence);
  ~partition();

  partition_id id() const { return id_; }
  const std::string& dir() const { return dir_; }

  // Opens the segment files, cuts a torn tail, reports damage. Before start.
  // `rewrite_from`: the lowest offset the commit journal holds for this
  // partition (UINT64_MAX: none). Everything at or above it in the active
  // segment was written without an fdatasync of its own, so after a power
  // loss it may hold holes (later pages kept, earlier ones lost): at the
  // first bad stretch in that range the segment is cut, and replay()
  // rewrites the rest from the journal. Records there that pass their
  // checksums are what was written, unless the page cache holds bytes the
  // disk lost (after a failed fdatasync, until a reboot): `distrust` (the
  // log was fenced) cuts at rewrite_from itself, so all of it is rewritten.
  // `sums`: (offset, frame checksum) of the journal's records, sorted. A
  // record in the segment whose checksum differs from the journal's for its
  // offset is a stale one (written by a round that failed, whose offsets
  // were then given to other records, and written back before the power
  // went): the segment is cut there too.
  [[nodiscard]] std::error_code recover(recovery_report& report, offset_t rewrite_from = UINT64_MAX,
                                        bool distrust = false, const journal_sums* sums = nullptr);

  // --- holes (before start, except holes()) ------------------------------------
  // The holes the HOLES file recorded for this partition.
  void set_holes(std::vector<offset_hole> holes);
  // Makes `next` the next offset to give out when the partition ends below
  // it (its records up to `next` were lost, but a consumer already took
  // offsets up to there): records the hole and starts a new segment at
  // `next`, so that no offset is ever given out twice. Nothing if the
  // partition already reaches `next`.
  [[nodiscard]] std::error_code skip_to(offset_t next, std::int64_t found_ms);
  // Records as holes the gaps between consecutive segments that are not
  // recorded yet (a skip_to whose HOLES write a crash prevented). True if
  // it found any.
  bool record_segment_gaps(std::int64_t found_ms);
  // Any thread.
  std::vector<offset_hole> holes() const;

  // --- any thread -------------------------------------------------------------
  enum class enqueue_result { queued, invalid, closed };
  // Queues an encoded record with its handler (moved from only when queued).
  // The bytes it added to the queue are added to `pending_total` before the
  // lock that the flusher takes chunks under is released, so the flusher
  // never subtracts bytes that were not added yet.
  enqueue_result enqueue(const click_record& r, append_handler& done,
                         std::atomic<std::uint64_t>& pending_total);
  // Refuses further enqueues (stop); what is queued stays queued.
  void close();

  offset_t durable_end() const { return durable_end_.load(std::memory_order_acquire); }
  offset_t start_offset() const;
  std::vector<segment_info> segments() const;
  // The segment holding `offset`, else the first one after it; null if none.
  std::shared_ptr<segment> find_segment(offset_t offset) const;
  std::shared_ptr<segment> next_segment(offset_t base_offset) const;
  void set_delete_floor(offset_t offset);
  // While the token lives, retention deletes no segment holding offsets at
  // or above `from`. Any thread; the partition must outlive the token.
  std::shared_ptr<void> pin(offset_t from);

  // --- flusher thread ---------------------------------------------------------
  // Moves the queued chunks whose first record was queued before `cutoff`
  // into `expired` (they are never written: their appends time out), then up
  // to max_bytes of the others into `batch` (at least one chunk if any is
  // queued). Returns the bytes taken out of the queue (both kinds); `more`
  // says whether chunks are still queued after it.
  std::uint64_t take(std::uint64_t max_bytes, std::chrono::steady_clock::time_point cutoff,
                     std::vector<pending_chunk>& batch, std::vector<pending_chunk>& expired,
                     bool& more);
  // Assigns offsets and writes the batch to the active segment (rolling it
  // first if it is full or old). On error the file is cut back and nothing of
  // the batch counts.
  [[nodiscard]] std::error_code write(std::vector<pending_chunk>& batch, std::int64_t now_ms);
  // fdatasync of the segment written to (sync mode), then publishes the new
  // durable end. On error the written batch is cut back.
  [[nodiscard]] std::error_code commit(bool sync);
  // Cuts back the write in progress (its group commit failed elsewhere).
  void abort_write() { rollback_write(); }
  // First offset of the write in progress.
  offset_t writing_first_offset() const { return writing_.first_offset; }
  // fdatasyncs the active segment if records were committed without it
  // (journal mode).
  [[nodiscard]] std::error_code sync_unsynced();
  // The active segment if records were committed to it without an
  // fdatasync (journal mode), for a checkpoint thread to sync; null if none.
  std::shared_ptr<segment> take_unsynced();
  // Recovery: re-applies a journal chunk, writing the frames at or above the
  // partition's end (those a crash kept out of the segment). Before start.
  [[nodiscard]] std::error_code replay(offset_t first_offset, std::uint32_t records,
                                       std::string_view frames, recovery_report& report);
  // Completes every handler of the batch (with its offset, or the error) and
  // recycles the chunks.
  void complete(std::vector<pending_chunk>& batch, std::error_code ec);
  // Seals the active segment if it is older than segment_age.
  void seal_if_old(std::int64_t now_ms);
  // Deletes sealed segments older than the retention and below the floor.
  void enforce_retention(std::int64_t now_ms);
  // Syncs the active segment (stop).
  [[nodiscard]] std::error_code sync_active();

  // --- preallocator thread --------------------------------------------------
  // Keeps at least `ahead` bytes of zeros, written and synced, past the end of
  // the active segment's data, so that the flusher's fdatasync writes data
  // blocks only (no allocation, no size change: no journal commit). Returns
  // true if it wrote anything.
  bool extend_preallocation(std::uint64_t ahead);
  // True when less than half of `ahead` is left.
  bool wants_preallocation(std::uint64_t ahead) const;

 private:
  [[nodiscard]] std::error_code seal_active();

  // --- recover() ---------------------------------------------------------
  // What recover() does with one segment.
  struct recovery_plan {
    bool last = false;                   // the active segment
    offset_t rewrite_from = UINT64_MAX;  // the journal holds the records from here on
    bool distrust = false;               // rewrite every record the journal holds
    const journal_sums* sums = nullptr;  // the journal's frame checksums, by offset
  };
  // What a scan found in a segment.
  struct recovered_segment {
    segment_stats stats;
    std::vector<sparse_entry> index;
    std::uint64_t last_index_pos = 0;
  };
  // The segments' base offsets, sorted; stale indexes and temporary files
  // are removed, anything else unexpected is bad_layout.
  [[nodiscard]] std::error_code list_segments(std::vector<offset_t>& bases);
  // Opens a segment; a last one whose header never became durable is
  // removed instead (`dropped` set, an error returned).
  result<std::shared_ptr<segment>> open_for_recovery(offset_t base, bool last, bool& dropped);
  // Rebuilds the segment's contents from its frames, cutting a torn tail
  // (the active segment) or what the journal rewrites.
  [[nodiscard]] std::error_code scan_for_recovery(segment& s, const recovery_plan& plan, frame_scanner& scanner,
                                                  recovered_segment& out, recovery_report& report);
  // One bad stretch: logged, and counted in the report and the stats.
  void report_corruption(const segment& s, std::uint64_t pos, std::uint64_t len, bool at_end,
                         recovery_report& report);
  // Truncates the segment at `pos` and syncs it.
  [[nodiscard]] std::error_code cut_segment(segment& s, std::uint64_t pos);
  // The journal holds a different frame (checksum at `frame`) for `offset`.
  static bool differs_from_journal(const journal_sums* sums, offset_t offset, const char* frame);

  // Adds a hole unless it is recorded already; true if added.
  bool add_hole(const offset_hole& h);
  // The newest event time of the records before offset `before` (INT64_MIN: none).
  std::int64_t newest_event_before(offset_t before) const;
  [[nodiscard]] std::error_code open_new_segment();
  void rollback_write();
  // s.sync_data(), and on failure the log is fenced (logged once here).
  [[nodiscard]] std::error_code sync_segment(segment& s, const char* why);

  // Constant after construction.
  const partition_id id_;
  const std::string dir_;
  const log_options& options_;
  base::file_system& fs_;
  log_stats& stats_;
  const std::function<bool()> fence_;

  // Guarded by segments_mu_: the segment list, oldest first (the last one may
  // be active). The flusher and retention change it; readers look things up.
  mutable base::shared_mutex segments_mu_;
  std::vector<std::shared_ptr<segment>> segments_ GUARDED_BY(segments_mu_);
  std::vector<offset_hole> holes_ GUARDED_BY(segments_mu_);  // oldest first
  std::multiset<offset_t> pins_ GUARDED_BY(segments_mu_);    // lowest offsets that readers keep from retention

  // Guarded by pending_mu_.
  base::mutex pending_mu_;
  std::vector<pending_chunk> pending_ GUARDED_BY(pending_mu_);
  std::vector<pending_chunk> spare_ GUARDED_BY(pending_mu_);  // recycled chunks with capacity
  bool closed_ GUARDED_BY(pending_mu_) = false;

  // Owned by the flusher thread (and by recover() before it starts).
  std::shared_ptr<segment> active_;  // null until the next write opens one
  offset_t next_offset_ = 0;
  // The write in progress between write() and commit().
  struct write_state {
    bool active = false;
    std::uint64_t pre_size = 0;
    offset_t pre_next = 0;
    segment_stats stats;
    std::vector<sparse_entry> index;
    std::uint64_t last_index_pos = 0;
    offset_t first_offset = 0;
  } writing_;
  std::uint64_t last_index_pos_ = 0;
  bool unsynced_ = false;  // committed records not yet fdatasync'd (journal mode)
  // Journal mode: where the active segment's started writeback ends (its
  // file's bytes below it are on their way to the disk). Compared by
  // identity, so a new active segment starts from 0.
  const segment* writeback_segment_ = nullptr;
  std::uint64_t writeback_end_ = 0;

  // Preallocation of the active segment's file. Bytes below zeroed_end_ are
  // zeros (or data) that are allocated and synced; the flusher writes below it
  // without the lock, and takes extend_mu_ to write at or beyond it, which is
  // also where the preallocator writes zeros (under extend_mu_).
  base::mutex extend_mu_;
  std::shared_ptr<segment> prealloc_seg_ GUARDED_BY(extend_mu_);
  std::atomic<std::uint64_t> zeroed_end_{0};  // written under extend_mu_
  std::atomic<std::uint64_t> data_end_{0};    // end of data; written under extend_mu_

  std::atomic<offset_t> durable_end_{0};
  std::atomic<offset_t> delete_floor_{0};
};

}  // namespace adclick::log
