#include "config/config_errc.h"

#include <string>

namespace adclick::config {
namespace {

class config_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "adclick.config"; }

  std::string message(int ev) const override {
    switch (static_cast<config_errc>(ev)) {
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
    return "unknown adclick.config error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& config_category() noexcept {
  static const config_category_impl category;
  return category;
}

std::error_code make_error_code(config_errc e) noexcept {
  return {static_cast<int>(e), config_category()};
}

}  // namespace adclick::config
