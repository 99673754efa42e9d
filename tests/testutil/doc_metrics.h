#pragma once
// The metric names (adclick_...) that README.md, docs/ARCHITECTURE.md and
// docs/STATUS.md mention, so that a test can check each is on /metrics.

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>

namespace adclick::testutil {

inline std::set<std::string> metric_names_in_docs() {
  std::set<std::string> named;
  const std::regex metric_name("adclick_[a-z0-9_]*[a-z0-9](?![a-z0-9_*])");
  for (const char* doc : {"/README.md", "/docs/ARCHITECTURE.md", "/docs/STATUS.md"}) {
    std::ifstream in(std::string(ADCLICK_SOURCE_DIR) + doc);
    if (!in) throw std::runtime_error(std::string("cannot read ") + doc);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::sregex_iterator it(text.begin(), text.end(), metric_name), end; it != end; ++it) named.insert(it->str());
  }
  return named;
}

// Whether a metric is the Kafka backend's (on a Kafka node's /metrics only).
inline bool kafka_metric(const std::string& name) {
  return name.rfind("adclick_kafka_", 0) == 0 || name.rfind("adclick_counts_", 0) == 0;
}

}  // namespace adclick::testutil
