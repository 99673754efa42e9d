#pragma once
// Error codes of adclick::base (category "adclick.base").

#include <system_error>

namespace adclick::base {

enum class base_errc {
  // Zero is reserved for success, as std::error_code requires.
  invalid_duration = 1,  // not "<integer><ms|s|m|h|d>"
  invalid_size,          // not "<integer><B|KiB|MiB|GiB|TiB>"
  out_of_range,          // well-formed, but the value does not fit the target type
};

// The category singleton; its name() is "adclick.base".
const std::error_category& base_category() noexcept;

std::error_code make_error_code(base_errc e) noexcept;

}  // namespace adclick::base

template <>
struct std::is_error_code_enum<adclick::base::base_errc> : std::true_type {};
