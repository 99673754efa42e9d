#pragma once
// TOML spelling helpers shared by the parser's error messages and describe().
// Internal to adclick::config.

#include <cstddef>
#include <string>
#include <string_view>

namespace adclick::config {

// `s` as a TOML basic string: quoted, with \" \\ and control characters
// escaped, so the result is always one line. When `s` is longer than
// `max_bytes`, it is cut (at a UTF-8 character boundary) and "..." appended
// inside the quotes.
std::string quote_toml_string(std::string_view s, std::size_t max_bytes = std::string_view::npos);

// `key` as written in a dotted TOML path: bare when it is made of
// A-Z a-z 0-9 _ - only, otherwise quoted.
std::string toml_key(std::string_view key);

}  // namespace adclick::config
