#pragma once
// `adclick serve`: runs the engine until SIGTERM or SIGINT.

#include <string_view>

#include "config/config.h"

namespace adclick::app {

// What serve says to a config with log.backend = "kafka" and node.roles
// other than all three: one node over a topic does every role; nodes with
// split roles are not built yet (docs/STATUS.md).
inline constexpr std::string_view kKafkaSplitRolesNotServed =
    "node.roles: this build serves log.backend = \"kafka\" with one node doing every role (front, aggregate, "
    "query); split roles are not built yet (see docs/STATUS.md)";

// Returns the process exit code (2 for a config it cannot serve). The
// config has already been validated.
int serve(const config::config& cfg);

}  // namespace adclick::app
