#pragma once
// Unsigned decimal integers from text, all or nothing: digits only (no sign,
// no spaces), the whole text, no overflow.

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace adclick::base {

inline std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

// The same, into out (untouched on failure).
inline bool parse_u64(std::string_view text, std::uint64_t& out) {
  const auto v = parse_u64(text);
  if (v) out = *v;
  return v.has_value();
}

}  // namespace adclick::base
