#pragma once
// Division rounding toward negative infinity, for times before 1970 and the
// minute or day a negative Unix time falls in. b > 0.

#include <cstdint>

namespace adclick::base {

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace adclick::base
