#include "base/base_errc.h"

#include <string>

namespace adclick::base {
namespace {

class base_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "adclick.base"; }

  std::string message(int ev) const override {
    switch (static_cast<base_errc>(ev)) {
      case base_errc::invalid_duration:
        return "invalid duration (expected an integer followed by ms, s, m, h or d)";
      case base_errc::invalid_size:
        return "invalid size (expected an integer followed by B, KiB, MiB, GiB or TiB)";
      case base_errc::out_of_range:
        return "value out of range";
    }
    return "unknown adclick.base error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& base_category() noexcept {
  static const base_category_impl category;
  return category;
}

std::error_code make_error_code(base_errc e) noexcept {
  return {static_cast<int>(e), base_category()};
}

}  // namespace adclick::base
