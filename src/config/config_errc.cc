#include "config/config_errc.h"

#include "base/error_category.h"

namespace adclick::config {
namespace {

const char* describe(config_errc e) noexcept {
  switch (e) {
    case config_errc::syntax:
      return "config is not valid TOML";
    case config_errc::unknown_key:
      return "unknown config key";
    case config_errc::invalid_value:
      return "invalid config value";
    case config_errc::missing_value:
      return "missing config value";
    case config_errc::io:
      return "cannot read config file";
  }
  return nullptr;
}

}  // namespace

const std::error_category& config_category() noexcept {
  static const base::errc_category<config_errc> c("adclick.config", describe);
  return c;
}

std::error_code make_error_code(config_errc e) noexcept {
  return {static_cast<int>(e), config_category()};
}

}  // namespace adclick::config
