#pragma once
// Durations as written in the config and on the command line: a non-negative
// integer followed by exactly one unit, e.g. "1500ms", "60s", "5m", "24h", "7d".

#include <chrono>
#include <string>
#include <string_view>

#include "adclick/result.h"

namespace adclick::base {

// Parses "<digits><unit>" with unit one of ms, s, m, h, d (case-sensitive).
// Nothing else is accepted: no sign, no spaces, no fraction, no exponent, no
// second unit ("1h30m"). Leading zeros are allowed ("05s" is 5 s).
// Errors: base_errc::invalid_duration for malformed text,
//         base_errc::out_of_range when the value overflows milliseconds.
[[nodiscard]] result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The inverse of parse_duration: the largest unit that represents `d` exactly,
// e.g. 3600000ms -> "1h", 90000ms -> "90s", 1500ms -> "1500ms". Zero is "0s".
// A negative duration gets a leading '-' (which parse_duration rejects).
std::string format_duration(std::chrono::milliseconds d);

}  // namespace adclick::base
