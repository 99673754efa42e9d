#pragma once
// Times as the API and reports write them: RFC 3339 (UTC out; any offset in),
// or Unix seconds. Years 1970..9999.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace adclick::base {

// "2026-11-29T05:00:00Z" (RFC 3339, any offset, optional fraction: rounded
// down to the second) or Unix seconds ("1795900000"). nullopt if neither.
std::optional<std::int64_t> parse_time(std::string_view s);
// RFC 3339 UTC, seconds: "2026-11-29T05:00:00Z".
std::string format_time(std::int64_t unix_s);
// The same into out[0..20); returns 20.
std::size_t format_time(std::int64_t unix_s, char* out);
// RFC 3339 UTC with milliseconds: "2026-11-29T05:00:00.250Z".
std::string format_time_ms(std::int64_t unix_ms);

}  // namespace adclick::base
