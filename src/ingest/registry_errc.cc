#include "ingest/registry_errc.h"

#include "base/error_category.h"

namespace adclick::ingest {
namespace {

const char* describe(registry_errc e) noexcept {
  switch (e) {
    case registry_errc::invalid_url: return "invalid ad URL";
    case registry_errc::invalid_advertiser: return "invalid advertiser id";
    case registry_errc::invalid_ad_id: return "invalid ad id";
    case registry_errc::not_found: return "no such ad";
  }
  return nullptr;
}
}  // namespace

const std::error_category& registry_category() noexcept {
  static const base::errc_category<registry_errc> c("adclick.registry", describe);
  return c;
}

}  // namespace adclick::ingest
