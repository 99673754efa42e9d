#include <cstdio>

#include "app/commands.h"
#include "log/archive.h"
#include "log/inspect.h"

namespace adclick::app {

int inspect_log(const std::string& dir_arg) {
  std::string dir = dir_arg;
  // Accept the data dir too.
  if (FILE* f = std::fopen((dir + "/log/LOG_META").c_str(), "r")) {
    std::fclose(f);
    dir += "/log";
  }
  const auto report = log::is_archive_dir(dir) ? log::inspect_archive(dir) : log::inspect_log(dir);
  std::fputs(log::format_report(report).c_str(), stdout);
  return report.clean() ? 0 : 1;
}

}  // namespace adclick::app
