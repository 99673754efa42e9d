#pragma once
// Offline verification of a log directory (`adclick log inspect DIR`): reads
// every segment, checks every checksum, never changes a byte.

#include <cstdint>
#include <string>
#include <vector>

#include "adclick/click_log.h"

namespace adclick::log {

struct segment_report {
  partition_id partition = 0;
  offset_t base_offset = 0;
  offset_t end_offset = 0;  // one past the last good record
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::int64_t min_event_time_ms = 0;
  std::int64_t max_event_time_ms = 0;
  bool has_index = false;
  std::vector<corruption> corruptions;  // bad stretches (checksum, framing, payload)
  std::uint64_t torn_tail_bytes = 0;    // incomplete last record of the newest segment
  std::uint64_t preallocated_bytes = 0; // zeros after the data (preallocated space)
  std::vector<std::string> problems;    // header, index or ordering problems
};

struct inspect_report {
  std::uint32_t partitions = 0;
  std::vector<segment_report> segments;
  std::vector<std::string> problems;  // directory-level problems
  std::uint64_t records = 0;
  std::uint64_t corrupt_stretches = 0;
  std::uint64_t corrupt_bytes = 0;
  // Offsets known lost (the HOLES file): recorded, so not damage, but the
  // clicks they held are gone from the log.
  std::vector<offset_hole> holes;

  // True when nothing is damaged (a torn tail is not damage: the next open cuts it).
  bool clean() const;
};

// Inspects the log in `dir` (the directory holding LOG_META and p0000...).
inspect_report inspect_log(const std::string& dir);

// Renders the report as a table plus one line per problem.
std::string format_report(const inspect_report& r);

}  // namespace adclick::log
