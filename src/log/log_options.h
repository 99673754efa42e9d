#pragma once
// Settings and counters of the segmented log.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace adclick::base {
class file_system;
}  // namespace adclick::base

namespace adclick::log {

enum class durability {
  sync,  // an append completes after fdatasync of its segment file
  os,    // an append completes after write(2): survives a process crash, not a power loss
};

struct log_options {
  std::string dir;  // the log's own directory, e.g. <data_dir>/log
  std::uint32_t partitions = 8;
  durability mode = durability::sync;
  std::uint64_t segment_size = 64ull << 20;             // roll at this size
  std::chrono::milliseconds segment_age{3'600'000};     // or at this age (wall clock)
  std::chrono::milliseconds retention{7 * 86'400'000};  // delete sealed segments older than this
  std::uint64_t batch_max_bytes = 1 << 20;  // at most this much per partition per group commit
  std::chrono::microseconds batch_max_delay{0};  // linger to gather a bigger batch
  std::uint64_t max_pending_bytes = 64ull << 20;  // appends beyond this fail `overloaded`
  // An append still queued (not yet written) this long after it was made
  // fails with log_errc::timed_out and is never written, so no caller waits
  // on a backlog without bound. One being written waits for its fdatasync.
  std::chrono::milliseconds append_timeout{5'000};
  // Zeros kept written and synced ahead of the active segment's data, so that
  // a group commit's fdatasync flushes data only (0: off).
  std::uint64_t preallocate = 2ull << 20;
  // Sync durability: one commit journal for all partitions (one fdatasync per
  // group commit), segments synced at checkpoints. Off: every written
  // partition's segment is fdatasync'd per group commit.
  bool journal = true;
  // Each of the two journal files is preallocated to this size; the flusher
  // switches files (and a checkpoint syncs the segments) when the current
  // one is this full or this old.
  std::uint64_t checkpoint_bytes = 32ull << 20;
  std::chrono::milliseconds checkpoint_interval{10'000};
  base::file_system* fs = nullptr;                      // nullptr: POSIX
  // Per partition (shorter: 0 for the rest), the lowest offset the log may
  // give out next: the highest offset a consumer has committed (the shards'
  // offsets in the state). A partition found ending below it lost records
  // that were already read; it records the gap as a hole (HOLES) and goes on
  // from there, so an offset is never given out twice.
  std::vector<std::uint64_t> resume_floor;
  // Record gaps between segments as holes (off for a log put together from
  // chosen archived segments, whose gaps are not losses).
  bool record_gaps = true;
  // Wall clock in Unix ms (segment age, retention); injectable for tests.
  std::function<std::int64_t()> now_ms;
};

// Counters, updated by the flusher and readers; read by anyone (metrics).
struct log_stats {
  std::atomic<std::uint64_t> appends{0};          // records made durable
  std::atomic<std::uint64_t> append_failures{0};  // appends completed with an error
  std::atomic<std::uint64_t> append_timeouts{0};  // of those: not written within append_timeout
  std::atomic<std::uint64_t> bytes_written{0};
  std::atomic<std::uint64_t> batches{0};  // group commits
  std::atomic<std::uint64_t> syncs{0};    // fdatasync calls on segment files
  std::atomic<std::uint64_t> sync_ns{0};  // total time in them
  std::atomic<std::uint64_t> corruptions{0};  // bad stretches skipped (recovery and readers)
  std::atomic<std::uint64_t> corrupt_bytes{0};
  std::atomic<std::uint64_t> segments_sealed{0};
  std::atomic<std::uint64_t> segments_deleted{0};
  std::atomic<std::uint64_t> checkpoints{0};
  std::atomic<std::uint64_t> sync_failures{0};  // segment fdatasyncs that failed (each fences the log)
};

// What opening the log found and did.
struct recovery_report {
  std::uint32_t partitions = 0;
  std::uint64_t segments = 0;
  std::uint64_t records_scanned = 0;  // in segments without a usable index
  std::uint64_t torn_bytes_cut = 0;   // incomplete tails removed
  std::uint64_t corruptions = 0;      // bad stretches found (and kept out of reads)
  std::uint64_t corrupt_bytes = 0;
  std::uint64_t indexes_rebuilt = 0;
  std::uint64_t journal_commits = 0;           // group commits found in the journal
  std::uint64_t journal_records_restored = 0;  // records copied back into segments
  std::uint64_t holes = 0;                     // known offset holes (HOLES), all partitions
  std::chrono::milliseconds took{0};
};

}  // namespace adclick::log
