#pragma once
// Error codes of the ad registry.

#include <system_error>

namespace adclick::ingest {

enum class registry_errc {
  invalid_url = 1,
  invalid_advertiser,
  invalid_ad_id,
  not_found,
};
const std::error_category& registry_category() noexcept;
inline std::error_code make_error_code(registry_errc e) noexcept {
  return {static_cast<int>(e), registry_category()};
}

}  // namespace adclick::ingest

template <>
struct std::is_error_code_enum<adclick::ingest::registry_errc> : std::true_type {};
