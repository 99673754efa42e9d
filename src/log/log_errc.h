#pragma once
// Error codes of the log subsystem (I/O errors travel as std::system_category
// codes: ENOSPC, EIO, ...).

#include <system_error>

namespace adclick::log {

enum class log_errc {
  stopped = 1,         // the log is stopped or stopping
  invalid_partition,   // partition id out of range
  invalid_record,      // the record breaks a limit of the encoding
  overloaded,          // too many bytes waiting for the group commit
  bad_segment_header,  // a segment file's header is damaged or does not match its name
  bad_index,           // a segment index file is damaged or does not match its segment
  bad_layout,          // the log directory holds something unexpected
  partition_mismatch,  // the log was created with a different partition count
  timed_out,           // not durable within log_options::append_timeout: not written
  fenced,              // a segment's fdatasync failed: appends refused until a restart
  bad_holes_file,      // the file of known offset holes is damaged
  unreachable,         // the log's brokers are not answering (Kafka): not written
};

const std::error_category& log_category() noexcept;
inline std::error_code make_error_code(log_errc e) noexcept {
  return {static_cast<int>(e), log_category()};
}

}  // namespace adclick::log

template <>
struct std::is_error_code_enum<adclick::log::log_errc> : std::true_type {};
