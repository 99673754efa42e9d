#include "base/process_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/wall_time.h"

namespace adclick::base {
namespace {

// Resident set size in bytes (the second field of /proc/self/statm, in pages);
// 0 when it cannot be read.
double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

}  // namespace

void register_process_metrics(metrics_registry& m) {
  m.add_gauge("process_resident_memory_bytes", "Resident memory size in bytes", "", resident_bytes);
  m.add_gauge("process_open_fds", "Open file descriptors", "", open_fds);
  const double started_s = static_cast<double>(wall_now_ms()) / 1000.0;
  m.add_gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds", "",
              [started_s] { return started_s; });
}

}  // namespace adclick::base
