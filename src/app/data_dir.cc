#include "app/data_dir.h"

#include <fmt/format.h>

#include <filesystem>

namespace adclick::app {

result<held_data_dir> hold_data_dir(const std::string& dir, if_missing missing, std::string_view if_in_use,
                                    std::string& error_line) {
  std::error_code ec;
  if (missing == if_missing::fail && !std::filesystem::is_directory(dir, ec)) {
    error_line = fmt::format("data dir {} does not exist", dir);
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  if (missing == if_missing::create) std::filesystem::create_directories(dir, ec);
  if (ec) {
    error_line = fmt::format("cannot create data dir {}: {}", dir, ec.message());
    return ec;
  }
  long holder = 0;
  auto lock = base::lock_file::acquire(dir + "/LOCK", &holder);
  if (!lock) {
    if (lock.error() == std::errc::resource_unavailable_try_again || lock.error() == std::errc::operation_would_block) {
      error_line = fmt::format("data dir {} is in use by another adclick (pid {}); {}", dir, holder, if_in_use);
    } else {
      error_line = fmt::format("cannot lock {}/LOCK: {}", dir, lock.error().message());
    }
    return lock.error();
  }
  // A restore that did not finish leaves its marker: the dir holds part of
  // a backup, which must not be served (or RocksDB would start empty).
  if (std::filesystem::exists(dir + "/" + kRestoringMarker, ec)) {
    error_line = fmt::format(
        "data dir {} holds an unfinished restore ({} is there): empty it and run adclick restore "
        "again",
        dir, kRestoringMarker);
    return std::make_error_code(std::errc::device_or_resource_busy);
  }
  auto store = state::store::open(dir + "/state", error_line);
  if (!store) return store.error();
  return held_data_dir{std::move(*lock), std::move(*store)};
}

}  // namespace adclick::app
