#include "state/state_errc.h"

#include "base/error_category.h"
#include "state/rocksdb_status.h"

namespace adclick::state {
namespace {

const char* describe(state_errc e) noexcept {
  switch (e) {
    case state_errc::corrupt: return "stored state is corrupt";
    case state_errc::io: return "state I/O error";
    case state_errc::failed: return "state operation failed";
  }
  return nullptr;
}

}  // namespace

const std::error_category& state_category() noexcept {
  static const base::errc_category<state_errc> c("adclick.state", describe);
  return c;
}

std::error_code to_error(const rocksdb::Status& s) {
  if (s.IsCorruption()) return state_errc::corrupt;
  if (s.IsIOError()) return state_errc::io;
  return state_errc::failed;
}

}  // namespace adclick::state
