#pragma once
// Error codes of the state store (RocksDB's statuses mapped to three kinds).

#include <system_error>

namespace adclick::state {

enum class state_errc {
  corrupt = 1,  // a stored value does not decode, or RocksDB reports corruption
  io,           // RocksDB reports an I/O error (disk full, ...)
  failed,       // any other RocksDB failure
};
const std::error_category& state_category() noexcept;
inline std::error_code make_error_code(state_errc e) noexcept {
  return {static_cast<int>(e), state_category()};
}

}  // namespace adclick::state

template <>
struct std::is_error_code_enum<adclick::state::state_errc> : std::true_type {};
