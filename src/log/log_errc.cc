#include "log/log_errc.h"

#include "base/error_category.h"

namespace adclick::log {
namespace {
const char* describe(log_errc e) noexcept {
  switch (e) {
    case log_errc::stopped: return "the log is stopped";
    case log_errc::invalid_partition: return "no such partition";
    case log_errc::invalid_record: return "record breaks a limit of the log format";
    case log_errc::overloaded: return "too many appends waiting for the disk";
    case log_errc::bad_segment_header: return "segment header damaged or not matching its file name";
    case log_errc::bad_index: return "segment index damaged or not matching its segment";
    case log_errc::bad_layout: return "unexpected file in the log directory";
    case log_errc::partition_mismatch: return "log was created with a different partition count";
    case log_errc::timed_out: return "the append was not durable within log.append_timeout";
    case log_errc::fenced:
      return "a segment fdatasync failed: appends are refused until adclick restarts and "
             "recovers from the journal";
    case log_errc::bad_holes_file: return "the log's file of known offset holes is damaged";
    case log_errc::unreachable: return "the log's brokers are not answering: not written";
  }
  return nullptr;
}
}  // namespace

const std::error_category& log_category() noexcept {
  static const base::errc_category<log_errc> c("adclick.log", describe);
  return c;
}

}  // namespace adclick::log
