#pragma once
// The commit journal: one durable record per group commit holding every
// partition's new frames, so a group commit costs one fdatasync however many
// partitions it touched. Segment files receive the same frames (write(2)
// only) and are fdatasync'd later, by a checkpoint.
//
// Two preallocated files take turns: the flusher appends to the current one;
// when it is full (or old) the flusher switches to the other, and a
// checkpoint thread fdatasyncs the segments written so far, after which the
// retired file's records are redundant and the file may be reused. Reusing a
// file only moves its write position (its blocks stay allocated, so an
// fdatasync rewrites data blocks and commits no file-system metadata).
// Records left behind from before are told apart by sequence numbers, and
// replaying one is harmless: its records are in the segments already.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "adclick/click_log.h"
#include "adclick/result.h"

namespace adclick::base {
class file_system;
}  // namespace adclick::base

namespace adclick::log {

struct journal_chunk {
  partition_id partition = 0;
  offset_t first_offset = 0;
  std::uint32_t records = 0;
  std::string_view frames;  // sealed frames
};

// Owned by the flusher thread (and by recovery before it starts).
class journal {
 public:
  // preallocate: bytes of zeros each journal file is created with.
  journal(base::file_system& fs, std::string dir, std::uint64_t preallocate);
  ~journal();

  // Calls fn for every chunk of every intact record in both files, older
  // file first. A damaged record (bad checksum with bytes after it) is
  // counted in `damaged`; a torn or zero record ends a file. Before open().
  [[nodiscard]] std::error_code replay(const std::function<void(const journal_chunk&)>& fn,
                                       std::uint64_t& records, std::uint64_t& damaged);

  // Opens (creating and preallocating as needed) both files, clears them
  // (clear()), and starts appending at the beginning of file 0. Call after
  // the segments hold everything replay() delivered and are synced.
  [[nodiscard]] std::error_code open();

  // Appends one group commit to the current file and fdatasyncs it. On error
  // the bytes written are zeroed again.
  [[nodiscard]] std::error_code append(const std::vector<journal_chunk>& chunks);

  // Marks both files empty (their first record zeroed, synced): for a stop
  // after every segment was synced, so that the next start replays nothing.
  [[nodiscard]] std::error_code clear();

  // Bytes in the current file.
  std::uint64_t bytes() const { return size_[current_]; }
  // Makes the other file current (its write position back to 0). The caller
  // has made sure that everything in that other file is in synced segments.
  void switch_files();

 private:
  base::file_system& fs_;
  const std::string dir_;
  const std::uint64_t preallocate_;
  int fd_[2] = {-1, -1};
  std::uint64_t size_[2] = {0, 0};
  int current_ = 0;
  std::uint64_t next_seq_ = 1;
  std::string buf_;  // reused encoding buffer
};

}  // namespace adclick::log
