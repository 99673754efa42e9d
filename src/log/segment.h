#pragma once
// One segment file of one partition, and its index.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adclick/click_log.h"
#include "base/file_system.h"
#include "base/mutex.h"

namespace adclick::log {

struct sparse_entry {
  offset_t offset = 0;
  std::uint64_t position = 0;  // byte position of that record's frame
};

// What the records of a segment add up to.
struct segment_stats {
  offset_t end_offset = 0;  // one past the last record; base offset when empty
  std::uint64_t records = 0;
  std::int64_t min_event_time_ms = 0;
  std::int64_t max_event_time_ms = 0;
  std::uint64_t data_size = 0;  // bytes of the file that hold the header and records

  // Accounts for one more record at `position` with frame size `size`.
  void add(offset_t offset, std::int64_t event_time_ms, std::uint64_t position, std::uint64_t size);
};

class segment {
 public:
  // Creates a new, empty segment file (header written and synced, directory
  // synced): durable before any record is written into it.
  [[nodiscard]] static result<std::shared_ptr<segment>> create(base::file_system& fs,
                                                              const std::string& dir,
                                                              partition_id partition,
                                                              offset_t base_offset);
  // Opens an existing segment file read-write and checks its header against
  // the expected partition and base offset. Stats are left empty: the caller
  // loads the index or scans.
  [[nodiscard]] static result<std::shared_ptr<segment>> open(base::file_system& fs,
                                                            const std::string& dir,
                                                            partition_id partition,
                                                            offset_t base_offset, bool read_only);

  segment(base::file_system& fs, std::string dir, partition_id partition, offset_t base_offset, int fd,
          std::int64_t created_ms);
  ~segment();
  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;

  // Constant after construction.
  partition_id partition() const { return partition_; }
  offset_t base_offset() const { return base_offset_; }
  int fd() const { return fd_; }
  std::string path() const;
  std::string index_path() const;
  std::int64_t created_ms() const { return created_ms_; }

  // Bytes of the file that readers may read: everything in them is durable.
  // Written by the flusher (release), read by readers (acquire).
  std::uint64_t durable_bytes() const { return durable_bytes_.load(std::memory_order_acquire); }
  void publish_durable(std::uint64_t bytes) {
    durable_bytes_.store(bytes, std::memory_order_release);
  }

  bool sealed() const { return sealed_.load(std::memory_order_acquire); }

  // fdatasync of the segment file. A failed fdatasync is never retried and
  // trusted: Linux may have marked the unwritten pages clean, so a second
  // call "succeeds" without the data. The first failure poisons the segment
  // and every later call fails with log_errc::fenced; what the file should
  // hold is then rewritten from the commit journal at the next start. Any
  // thread (serialised here).
  [[nodiscard]] std::error_code sync_data();
  bool poisoned() const;

  segment_stats stats() const;
  segment_info info() const;
  // The byte position to start scanning from to find `offset`.
  std::uint64_t position_for(offset_t offset) const;

  // Writer side (flusher thread, or recovery before the log is shared).
  void set_contents(const segment_stats& s, std::vector<sparse_entry> index);
  void append_contents(const segment_stats& s, const std::vector<sparse_entry>& more_index);
  // Writes the index file durably and marks the segment sealed.
  [[nodiscard]] std::error_code seal();
  // Loads a sealed segment's index file; an error if it is missing or corrupt.
  [[nodiscard]] std::error_code load_index();

  // Removes the segment's files (retention). The fd stays open for readers
  // that still hold the segment.
  [[nodiscard]] std::error_code remove_files();

 private:
  base::file_system& fs_;
  const std::string dir_;
  const partition_id partition_;
  const offset_t base_offset_;
  const int fd_;
  const std::int64_t created_ms_;  // wall clock when created or opened

  std::atomic<std::uint64_t> durable_bytes_{0};
  std::atomic<bool> sealed_{false};

  mutable base::mutex sync_mu_;
  bool poisoned_ GUARDED_BY(sync_mu_) = false;

  mutable base::mutex mu_;
  segment_stats stats_ GUARDED_BY(mu_);
  std::vector<sparse_entry> index_ GUARDED_BY(mu_);
};

// Encodes / decodes an index file (record_format.h describes the layout).
std::string encode_index(partition_id partition, offset_t base_offset, const segment_stats& s,
                         const std::vector<sparse_entry>& index);
[[nodiscard]] bool decode_index(const std::string& bytes, partition_id partition,
                                offset_t base_offset, segment_stats& s,
                                std::vector<sparse_entry>& index);

// Walks the record frames of one segment file between a start position and a
// byte limit, in buffered reads, resynchronising after bad bytes: a stretch
// that is not a valid frame is reported with its length and the scan resumes
// at the next valid frame. Owned by one thread.
class frame_scanner {
 public:
  struct item {
    enum kind_t { record, corrupt, end };
    kind_t kind = end;
    std::uint64_t position = 0;  // file position of the frame or bad bytes
    // corrupt: bytes skipped. end: bytes between position and the limit that
    // hold no valid frame (a torn tail when scanning up to the file size).
    std::uint64_t skipped = 0;
    // end only: every skipped byte is zero (preallocated space, not damage).
    bool zero_tail = false;
    offset_t offset = 0;  // record only
    std::string_view payload;  // record only; valid until the next call
    std::uint64_t frame_size = 0;
  };

  explicit frame_scanner(base::file_system& fs, std::size_t buffer_size = 1 << 20);

  void reset(int fd, std::uint64_t position, std::uint64_t limit);
  void extend_limit(std::uint64_t limit) { limit_ = limit; }
  std::uint64_t position() const { return pos_; }
  std::uint64_t limit() const { return limit_; }

  // The next item. Frames whose offset is below min_offset count as bad bytes
  // (offsets only ever increase within a partition).
  result<item> next(offset_t min_offset);

 private:
  // Makes [at, at + n) buffered, or as much of it as lies below the limit.
  std::error_code fill(std::uint64_t at, std::size_t n);
  const char* ptr(std::uint64_t at) const { return buf_.data() + (at - buf_pos_); }
  std::uint64_t buffered_end() const { return buf_pos_ + buf_len_; }

  base::file_system& fs_;
  int fd_ = -1;
  std::uint64_t pos_ = 0;
  std::uint64_t limit_ = 0;
  std::vector<char> buf_;
  std::uint64_t buf_pos_ = 0;  // file position of buf_[0]
  std::size_t buf_len_ = 0;
};

}  // namespace adclick::log
