#pragma once
// Prometheus' own linter (promtool, from Debian's prometheus package) over a
// /metrics text, as a scrape would see it.

#include <fstream>
#include <string>
#include <utility>

#include "testutil/process.h"

namespace adclick::testutil {

// Writes `text` to `scratch_file` and runs `promtool check metrics` on it:
// {exit code, what it printed}. Clean text gives {0, ""}.
inline std::pair<int, std::string> promtool_check_metrics(const std::string& text,
                                                          const std::string& scratch_file) {
  {
    std::ofstream out(scratch_file);
    out << text;
  }
  return run({"/bin/sh", "-c", "promtool check metrics < '" + scratch_file + "'"});
}

}  // namespace adclick::testutil
