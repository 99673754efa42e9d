#pragma once
// The one rule for an ad id, wherever it comes from (/click, the API's paths
// and bodies, the CSV import, `adclick sign`): a decimal integer in [1, 2^63),
// written without sign, spaces or leading zeros ("7", not "007" or "+7"), so
// that one ad has one spelling in links, logs and reports.

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/decimal.h"

namespace adclick::base {

inline constexpr std::string_view kAdIdRule = "adId must be a decimal integer in [1, 2^63)";

constexpr bool valid_ad_id(std::uint64_t id) { return id >= 1 && id < (std::uint64_t{1} << 63); }

inline std::optional<std::uint64_t> parse_ad_id(std::string_view text) {
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  auto id = parse_u64(text);
  if (!id || !valid_ad_id(*id)) return std::nullopt;
  return id;
}

}  // namespace adclick::base
