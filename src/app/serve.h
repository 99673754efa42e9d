#pragma once
// `adclick serve`: builds the subsystems in order, runs until SIGTERM or
// SIGINT, and stops them in reverse order.

#include <cstdint>

#include "config/config.h"

namespace adclick::app {

// Returns the process exit code. The config has already been validated.
int serve(const config::config& cfg);

// `adclick reconcile`: one reconciliation of [from_s, to_s) (Unix seconds) on
// a stopped server's data dir; prints the report as JSON. With from_archive
// the records are read from storage.archive_dir (for a range older than the
// log's retention) instead of the live log. Exit code 0 when the run is done,
// 1 otherwise (one line on stderr says why).
int reconcile_offline(const config::config& cfg, std::int64_t from_s, std::int64_t to_s, bool from_archive);

}  // namespace adclick::app
