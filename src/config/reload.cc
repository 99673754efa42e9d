// What a config reload may change, and which other keys changed.

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace adclick::config {
namespace {

// describe()'s text as dotted key -> its line; a key left unset is listed
// by its "# key is not set" comment.
std::map<std::string, std::string> keyed_lines(const config& c) {
  std::map<std::string, std::string> out;
  std::istringstream in(describe(c));
  std::string line, table;
  constexpr std::string_view unset = " is not set";
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.front() == '[') {
      table = line.substr(1, line.size() - 2);
      continue;
    }
    std::string key;
    if (line.rfind("# ", 0) == 0 && line.size() > unset.size() + 2 &&
        line.compare(line.size() - unset.size(), unset.size(), unset) == 0) {
      key = line.substr(2, line.size() - 2 - unset.size());
    } else if (const auto eq = line.find(" = "); eq != std::string::npos && line.front() != '#') {
      key = line.substr(0, eq);
    } else {
      continue;
    }
    out[fmt::format("{}.{}", table, key)] = line;
  }
  return out;
}

}  // namespace

config reloadable_part(const config& running, const config& next,
                       std::vector<std::string>& restart_keys) {
  config merged = running;
  merged.signing.keys = next.signing.keys;
  merged.signing.current_key = next.signing.current_key;
  merged.auth = next.auth;
  merged.logging = next.logging;

  // Every other key: as the running server has it, or named.
  config others = next;
  others.signing.keys = running.signing.keys;
  others.signing.current_key = running.signing.current_key;
  others.auth = running.auth;
  others.logging = running.logging;
  restart_keys.clear();
  const auto was = keyed_lines(running);
  const auto now = keyed_lines(others);
  for (const auto& [key, line] : now) {
    auto it = was.find(key);
    if (it == was.end() || it->second != line) restart_keys.push_back(key);
  }
  for (const auto& [key, line] : was) {
    if (now.count(key) == 0) restart_keys.push_back(key);
  }
  // describe() masks secret Kafka properties: compare their values too.
  if (others.kafka.properties != running.kafka.properties &&
      std::find(restart_keys.begin(), restart_keys.end(), "kafka.properties") ==
          restart_keys.end()) {
    restart_keys.push_back("kafka.properties");
  }
  return merged;
}

}  // namespace adclick::config
