#pragma once
// `adclick serve`: runs the engine until SIGTERM or SIGINT.

#include <string_view>

#include "config/config.h"

namespace adclick::app {

// What serve and reconcile say to a config with log.backend = "kafka": the
// Kafka log and its mock cluster exist, the node roles over them do not yet
// (docs/STATUS.md).
inline constexpr std::string_view kKafkaNotServed =
    "log.backend = \"kafka\": this build has the Kafka log and adclick kafka-mock but cannot yet serve or "
    "reconcile on it (see docs/STATUS.md); use log.backend = \"embedded\"";

// Returns the process exit code (2 for a config it cannot serve). The
// config has already been validated.
int serve(const config::config& cfg);

}  // namespace adclick::app
