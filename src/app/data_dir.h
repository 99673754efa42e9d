#pragma once
// A data directory held by this process: its LOCK taken, then its RocksDB
// state opened. What serve, reconcile and `ads import` all start with.

#include <memory>
#include <string>

#include "adclick/result.h"
#include "base/lock_file.h"
#include "state/store.h"

namespace adclick::app {

struct held_data_dir {
  base::lock_file lock;                 // released last
  std::unique_ptr<state::store> store;  // closed first
};

enum class if_missing { create, fail };

// Present in a data dir while `adclick restore` fills it (app/backup.h);
// hold_data_dir refuses such a dir.
inline constexpr const char* kRestoringMarker = "RESTORING";

// Locks `dir` (created first if missing and asked to) and opens <dir>/state.
// On failure `error_line` says why in one line; when another process holds
// the lock it names its pid and ends with `if_in_use` ("stop it first").
[[nodiscard]] result<held_data_dir> hold_data_dir(const std::string& dir, if_missing missing,
                                                  std::string_view if_in_use, std::string& error_line);

}  // namespace adclick::app
