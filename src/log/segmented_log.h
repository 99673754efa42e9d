#pragma once
// The segmented log: the click_log implementation on local segment files,
// with one flusher thread doing group commit for all partitions.
//
// Durability: an append's handler reports success only after the flusher has
// written the record and (durability = sync) fdatasync'd its segment file;
// new segment files and index files are fsync'd with their directory before
// anything depends on them. Readers never see a record before that point.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adclick/click_log.h"
#include "base/mutex.h"
#include "log/journal.h"
#include "log/log_options.h"
#include "log/partition.h"

namespace adclick::base {
class file_system;
}  // namespace adclick::base

namespace adclick::log {

class journal;
class segment;
struct pending_chunk;

// A file a backup of the log takes: the first `bytes` of `source` (all of
// it when `whole`), written as `name` (relative to the log's directory).
struct backup_file {
  std::string source;
  std::string name;
  std::uint64_t bytes = 0;
  bool whole = false;      // a small metadata file, replaced whole when it changes
  bool immutable = false;  // a sealed segment or its index: may be hard-linked
};

// The records of one partition a backup holds: offsets [start, end).
struct partition_cut {
  partition_id partition = 0;
  offset_t start = 0;
  offset_t end = 0;
};

class segmented_log final : public click_log {
 public:
  // Opens (creating if needed) the log in options.dir and recovers every
  // partition. On failure, `error_line` says what and where.
  [[nodiscard]] static result<std::unique_ptr<segmented_log>> open(log_options options,
                                                                  recovery_report& report,
                                                                  std::string& error_line);
  ~segmented_log() override;

  // Starts the flusher thread. Appends queue before start() but complete only
  // after it.
  void start();
  // Writes and syncs everything queued, completes every handler, stops the
  // flusher. Appends after stop() fail with log_errc::stopped. Idempotent.
  void stop();

  std::uint32_t partitions() const override { return options_.partitions; }
  void append(partition_id p, const click_record& r, append_handler done) override;
  offset_t durable_end(partition_id p) const override;
  offset_t start_offset(partition_id p) const override;
  std::uint64_t durable_generation() const override;
  std::uint64_t wait_durable(std::uint64_t seen,
                             std::chrono::steady_clock::time_point deadline) const override;
  std::unique_ptr<partition_reader> open_reader(partition_id p, offset_t from) override;
  std::vector<segment_info> segments(partition_id p) const override;
  std::vector<offset_hole> holes(partition_id p) const override;
  std::shared_ptr<void> pin(partition_id p, offset_t from) override;
  void set_delete_floor(partition_id p, offset_t offset) override;

  // What a backup takes of the log now: per partition every segment up to
  // its durable end at this call (sealed ones whole with their indexes, the
  // active one up to its durable bytes), plus LOG_META and the holes file;
  // never the commit journal (what it holds is in the segments' durable
  // bytes). The caller holds pin(p, 0) on every partition from before this
  // call until the files are copied, so that retention deletes none of
  // them. log_errc::fenced once the log is fenced (its page cache may hold
  // bytes the disk lost: restart it first).
  [[nodiscard]] std::error_code backup_plan(std::vector<backup_file>& files,
                                            std::vector<partition_cut>& cuts) const;

  // Deletes what retention allows now (the flusher also does this periodically).
  void enforce_retention();

  const log_stats& stats() const { return stats_; }
  // True once an fdatasync of a segment failed: every append is refused
  // (log_errc::fenced) until a restart recovers from the journal.
  bool fenced() const { return fenced_.load(std::memory_order_acquire); }
  const log_options& options() const { return options_; }

 private:
  explicit segmented_log(log_options options);
  // The steps of open(), in order; each sets `error_line` when it fails.
  [[nodiscard]] std::error_code check_meta(std::string& error_line);
  [[nodiscard]] std::error_code read_holes(std::vector<offset_hole>& holes, std::string& error_line);
  [[nodiscard]] std::error_code plan_journal_rewrite(std::vector<offset_t>& rewrite_from,
                                                     std::vector<journal_sums>& sums, std::string& error_line);
  [[nodiscard]] std::error_code restore_from_journal(recovery_report& report, std::string& error_line);
  [[nodiscard]] std::error_code resume_past_floors(const std::vector<offset_hole>& known_holes,
                                                   recovery_report& report, std::string& error_line);
  void flusher_loop();
  void preallocator_loop();
  // One group commit over all partitions; false if nothing was queued.
  // `more`: chunks are still queued (a burst larger than one batch).
  bool run_batch_once(bool& more);
  void log_append_error(partition_id p, std::error_code ec);
  // Flusher thread: switches journal files when the current one is full or
  // old and the checkpoint thread is free, handing it the segments to sync.
  void maybe_switch_journal();
  void checkpoint_loop();
  // Fences the log (any thread); true the first time, which also writes the
  // FENCED marker.
  bool fence();
  void record_fence();
  // Stop: fdatasyncs every active segment; true if all succeeded.
  bool sync_all_active();
  std::int64_t now_ms() const;

  // Constant after open().
  const log_options options_;
  base::file_system& fs_;
  std::vector<std::unique_ptr<partition>> partitions_;
  std::unique_ptr<journal> journal_;  // sync durability with the journal on; flusher-owned
  std::chrono::steady_clock::time_point last_switch_{};  // flusher-owned
  // Checkpoint hand-off: the flusher sets a job when checkpoint_idle_ is true;
  // the checkpoint thread syncs the job's segments, then sets it true again.
  base::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  std::vector<std::shared_ptr<segment>> checkpoint_job_ GUARDED_BY(checkpoint_mu_);
  bool checkpoint_pending_ GUARDED_BY(checkpoint_mu_) = false;
  std::atomic<bool> checkpoint_idle_{true};
  std::thread checkpointer_;

  log_stats stats_;
  std::atomic<bool> fenced_{false};  // set once, under fence_mu_
  base::mutex fence_mu_;
  bool final_sync_ok_ = false;  // flusher: every active segment synced at stop

  // Wakes the flusher: set by appenders, cleared by the flusher (under mu_
  // when it sleeps).
  std::atomic<bool> work_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> pending_bytes_{0};
  mutable base::mutex mu_;
  std::condition_variable work_cv_;                 // flusher waits on it
  mutable std::condition_variable durable_cv_;      // consumers wait on it
  std::atomic<std::uint64_t> generation_{0};        // changes under mu_
  std::thread flusher_;       // owned by start()/stop()
  std::thread preallocator_;  // owned by start()/stop()
  std::condition_variable prealloc_cv_;  // the preallocator sleeps on it (with mu_)
  bool started_ GUARDED_BY(mu_) = false;
  bool stop_called_ GUARDED_BY(mu_) = false;

  // Owned by the flusher thread (by stop() when it never started).
  std::vector<std::vector<pending_chunk>> batches_;
  std::vector<pending_chunk> expired_;
  std::vector<std::error_code> errors_;
  std::vector<journal_chunk> journal_chunks_;
  std::chrono::steady_clock::time_point last_error_log_{};
};

}  // namespace adclick::log
