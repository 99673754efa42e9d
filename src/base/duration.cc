#include "base/duration.h"

#include <array>
#include <cstdint>
#include <limits>

#include "base/base_errc.h"

namespace adclick::base {
namespace {

struct duration_unit {
  std::string_view suffix;
  std::int64_t millis;
};

// Largest first: format_duration takes the first unit that divides exactly.
constexpr std::array<duration_unit, 5> kDurationUnits{{
    {"d", 24LL * 60 * 60 * 1000},
    {"h", 60LL * 60 * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
}};

}  // namespace

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return base_errc::invalid_duration;
  const std::string_view suffix = text.substr(digits);

  const duration_unit* unit = nullptr;
  for (const auto& u : kDurationUnits) {
    if (u.suffix == suffix) unit = &u;
  }
  if (unit == nullptr) return base_errc::invalid_duration;

  // Accumulate in milliseconds' own representation so that every overflow,
  // of the number or of number * unit, is caught before it happens.
  using rep = std::chrono::milliseconds::rep;
  constexpr rep kMax = std::numeric_limits<rep>::max();
  rep value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const rep digit = text[i] - '0';
    if (value > (kMax - digit) / 10) return base_errc::out_of_range;
    value = value * 10 + digit;
  }
  if (value > kMax / unit->millis) return base_errc::out_of_range;
  return std::chrono::milliseconds(value * unit->millis);
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto count = d.count();
  if (count == 0) return "0s";
  if (count < 0) {
    // -(min) would overflow; min is a whole number of milliseconds only.
    if (count == std::numeric_limits<decltype(count)>::min()) {
      return std::to_string(count) + "ms";
    }
    // Appending, not `"-" + string`: GCC 12 reports a bogus -Wrestrict on
    // the latter when inlined (GCC bug 105329).
    std::string out = "-";
    out += format_duration(-d);
    return out;
  }
  for (const auto& u : kDurationUnits) {
    if (count % u.millis == 0) {
      return std::to_string(count / u.millis) + std::string(u.suffix);
    }
  }
  return std::to_string(count) + "ms";  // unreachable: the last unit is 1 ms
}

}  // namespace adclick::base
