#pragma once
// URL query strings ("a=1&b=2"), split as sent: no percent-decoding (every
// value we accept is plain ASCII; a '%' fails the value's own check).

#include <optional>
#include <string_view>

namespace adclick::base {

// Calls f(name, value) for each '&'-separated pair, in order; a pair without
// '=' has an empty value. Stops early when f returns false; returns whether
// every call returned true.
template <typename F>
bool for_each_query_param(std::string_view query, F&& f) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (!f(pair.substr(0, eq), eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1))) {
      return false;
    }
  }
  return true;
}

// The value of the first pair called name, or nullopt.
inline std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string_view> found;
  for_each_query_param(query, [&](std::string_view n, std::string_view v) {
    if (n != name) return true;
    found = v;
    return false;
  });
  return found;
}

}  // namespace adclick::base
