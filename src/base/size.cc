#include "base/size.h"

#include <array>
#include <limits>

#include "base/base_errc.h"

namespace adclick::base {
namespace {

struct size_unit {
  std::string_view suffix;
  std::uint64_t bytes;
};

// Largest first: format_size takes the first unit that divides exactly.
constexpr std::array<size_unit, 5> kSizeUnits{{
    {"TiB", kTiB},
    {"GiB", kGiB},
    {"MiB", kMiB},
    {"KiB", kKiB},
    {"B", 1},
}};

}  // namespace

result<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return base_errc::invalid_size;
  const std::string_view suffix = text.substr(digits);

  const size_unit* unit = nullptr;
  for (const auto& u : kSizeUnits) {
    if (u.suffix == suffix) unit = &u;
  }
  if (unit == nullptr) return base_errc::invalid_size;

  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (kMax - digit) / 10) return base_errc::out_of_range;
    value = value * 10 + digit;
  }
  if (value > kMax / unit->bytes) return base_errc::out_of_range;
  return value * unit->bytes;
}

std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "0B";
  for (const auto& u : kSizeUnits) {
    if (bytes % u.bytes == 0) return std::to_string(bytes / u.bytes) + std::string(u.suffix);
  }
  return std::to_string(bytes) + "B";  // unreachable: the last unit is 1 byte
}

}  // namespace adclick::base
