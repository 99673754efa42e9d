#pragma once
// Byte sizes as written in the config: a non-negative integer followed by
// exactly one binary unit, e.g. "512B", "8KiB", "64MiB", "4GiB", "1TiB".

#include <cstdint>
#include <string>
#include <string_view>

#include "adclick/result.h"

namespace adclick::base {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;
inline constexpr std::uint64_t kTiB = 1024 * kGiB;

// Parses "<digits><unit>" with unit one of B, KiB, MiB, GiB, TiB
// (case-sensitive; decimal units such as "MB" are refused, so nobody has to
// guess whether they mean 10^6 or 2^20). No sign, spaces or fraction.
// Leading zeros are allowed.
// Errors: base_errc::invalid_size for malformed text,
//         base_errc::out_of_range when the byte count overflows 64 bits.
[[nodiscard]] result<std::uint64_t> parse_size(std::string_view text);

// The inverse of parse_size: the largest unit that represents `bytes`
// exactly, e.g. 67108864 -> "64MiB", 1536 -> "1536B", 0 -> "0B".
std::string format_size(std::uint64_t bytes);

}  // namespace adclick::base
