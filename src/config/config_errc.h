#pragma once
// Error codes of adclick::config (category "adclick.config"). The codes say
// which kind of mistake; the one-line message handed back next to them says
// which key and what exactly.

#include <system_error>

namespace adclick::config {

enum class config_errc {
  // Zero is reserved for success, as std::error_code requires.
  syntax = 1,     // the text is not valid TOML
  unknown_key,    // a key or table that adclick does not know (often a typo)
  invalid_value,  // wrong type, malformed or out of range
  missing_value,  // a required key, or an environment variable it names, is absent
  io,             // the config file could not be read
};

// The category singleton; its name() is "adclick.config".
const std::error_category& config_category() noexcept;

std::error_code make_error_code(config_errc e) noexcept;

}  // namespace adclick::config

template <>
struct std::is_error_code_enum<adclick::config::config_errc> : std::true_type {};
