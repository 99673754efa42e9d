#include "base/base_errc.h"

#include "base/error_category.h"

namespace adclick::base {
namespace {

const char* describe(base_errc e) noexcept {
  switch (e) {
    case base_errc::invalid_duration:
      return "invalid duration (expected an integer followed by ms, s, m, h or d)";
    case base_errc::invalid_size:
      return "invalid size (expected an integer followed by B, KiB, MiB, GiB or TiB)";
    case base_errc::out_of_range:
      return "value out of range";
  }
  return nullptr;
}

}  // namespace

const std::error_category& base_category() noexcept {
  static const base::errc_category<base_errc> c("adclick.base", describe);
  return c;
}

std::error_code make_error_code(base_errc e) noexcept {
  return {static_cast<int>(e), base_category()};
}

}  // namespace adclick::base
