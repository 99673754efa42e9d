#pragma once
// The segment archive: sealed, reconciled segments copied (zstd-compressed)
// into `storage.archive_dir` before retention deletes them, with a manifest.
//
// Layout of an archive directory:
//   MANIFEST                      one line per archived segment (below),
//                                 appended and fdatasynced after its file
//   p0000/<base offset>.seg.zst   the segment file, whole, as one zstd frame
//                                 (with zstd's own content checksum)
// A manifest line:
//   segment partition=P base=B end=E records=N bytes=S compressed=C
//           min_ms=T0 max_ms=T1 xxh3=<16 hex digits of the uncompressed file>
// Durable when add() returns: the compressed file is written to a temporary
// name, fsynced, renamed and its directory fsynced, then the manifest line is
// appended and fdatasynced. A crash in between leaves at most a file the
// manifest does not name (ignored, and replaced when archived again) or an
// unfinished last manifest line (ignored on open).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "adclick/click_archive.h"
#include "adclick/click_log.h"
#include "adclick/result.h"
#include "base/mutex.h"
#include "log/inspect.h"

namespace adclick::log {

struct archived_segment {
  partition_id partition = 0;
  offset_t base_offset = 0;
  offset_t end_offset = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;             // of the segment file
  std::uint64_t compressed_bytes = 0;  // of its archived copy
  std::int64_t min_event_time_ms = 0;
  std::int64_t max_event_time_ms = 0;
  std::uint64_t xxh3 = 0;  // of the segment file's bytes
};

class segment_archive {
 public:
  // Opens (creating) the archive in `dir` and reads its manifest. On
  // failure `error_line` says what (e.g. a damaged manifest line).
  [[nodiscard]] static result<std::unique_ptr<segment_archive>> open(const std::string& dir,
                                                                     std::string& error_line);

  const std::string& dir() const { return dir_; }
  bool has(partition_id p, offset_t base_offset) const;
  // Every archived segment, by partition then offset. Any thread.
  std::vector<archived_segment> segments() const;

  // Archives the sealed segment `s` of partition p of the log in `log_dir`.
  // Any thread; archiving the same segment twice is a no-op.
  [[nodiscard]] std::error_code add(const std::string& log_dir, partition_id p, const segment_info& s);

  // Decompresses one archived segment into the log directory `dest_log_dir`
  // (as pNNNN/<base>.seg), checking zstd's checksum and the manifest's xxh3.
  // On a mismatch: an error, and `problem` says what.
  [[nodiscard]] std::error_code extract(const archived_segment& s, const std::string& dest_log_dir,
                                        std::string& problem) const;

 private:
  explicit segment_archive(std::string dir) : dir_(std::move(dir)) {}

  const std::string dir_;
  mutable base::mutex mu_;
  std::map<std::pair<partition_id, offset_t>, archived_segment> entries_ GUARDED_BY(mu_);
};

// The archive of the live log in `log_dir`, as the batch layer uses it.
// Constant after construction; `archive` outlives it.
class live_log_archive final : public click_archive {
 public:
  live_log_archive(segment_archive& archive, std::string log_dir)
      : archive_(archive), log_dir_(std::move(log_dir)) {}
  bool has(partition_id p, offset_t base_offset) const override { return archive_.has(p, base_offset); }
  [[nodiscard]] std::error_code add(partition_id p, const segment_info& s) override {
    return archive_.add(log_dir_, p, s);
  }

 private:
  segment_archive& archive_;
  const std::string log_dir_;
};

// Builds, in `dest_log_dir` (created; must not hold a log), a log of
// `partitions` partitions from the archived segments that meet
// [from_ms, to_ms) in event time: per partition, the run of segments from
// the first to the last one that meets it. Returns how many were extracted.
[[nodiscard]] result<std::size_t> extract_range(const segment_archive& archive, std::uint32_t partitions,
                                                std::int64_t from_ms, std::int64_t to_ms,
                                                const std::string& dest_log_dir, std::string& problem);

// The time before which every record of `live` is in the archive too: the
// earliest event time in any live segment the archive does not hold
// (INT64_MAX when it holds them all). A recount from the archive is complete
// only for minutes before it.
std::int64_t archive_complete_before(const segment_archive& archive, const click_log& live);

// `adclick log inspect` on an archive: every archived segment is
// decompressed (into a scratch directory next to the archive, removed
// afterwards), checked against the manifest, and inspected like a live one.
inspect_report inspect_archive(const std::string& dir);

// True when `dir` looks like an archive (it holds a MANIFEST).
bool is_archive_dir(const std::string& dir);

}  // namespace adclick::log
